#!/bin/sh
# Start-up: `fabc --list` on a 7-task package vs `fab --list` (Debian's
# fabric) on the same 7 tasks and `/usr/bin/python3 -c pass`, same run.
# Prints medians and ratios; never asserts.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
fabc=${FABC:-$root/bin/fabc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tasks"
cat > "$work/tasks/__init__.py" <<'PY'
from fabc import task, env
@task
def update(env_name, tag):
    """The update procedure."""
@task
def rollback(env_name, tag):
    """Return to the old tag."""
PY
cat > "$work/tasks/stack.py" <<'PY'
from fabc import task
@task
def create(env, tag):
    """Create the stack."""
@task
def delete(env):
    """Delete the stack."""
@task
def show(env):
    """Show the stack."""
PY
cat > "$work/tasks/images.py" <<'PY'
from fabc import task
@task
def build(tag):
    """Build an image."""
@task
def delete(tag):
    """Delete images by tag."""
PY
cat > "$work/fabfile.py" <<'PY'
from fabric import task
@task
def update(c, env_name, tag):
    """The update procedure."""
@task
def rollback(c, env_name, tag):
    """Return to the old tag."""
@task
def stack_create(c, env, tag):
    """Create the stack."""
@task
def stack_delete(c, env):
    """Delete the stack."""
@task
def stack_show(c, env):
    """Show the stack."""
@task
def images_build(c, tag):
    """Build an image."""
@task
def images_delete(c, tag):
    """Delete images by tag."""
PY
"$fabc" -f "$work/tasks" --list >/dev/null   # warm the caches once
cd "$work"
/usr/bin/python3 - "$fabc" <<'PY'
import os, statistics, subprocess, sys, time
fabc = sys.argv[1]
def med(cmd, n=30):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000
cases = [("fabc --list", [fabc, "-f", "tasks", "--list"]),
         ("python3 -S -c pass", ["/usr/bin/python3", "-S", "-c", "pass"]),
         ("python3 -c pass", ["/usr/bin/python3", "-c", "pass"])]
if subprocess.run(["sh", "-c", "command -v fab"],
                  stdout=subprocess.DEVNULL).returncode == 0:
    cases.append(("fab --list", ["fab", "--list"]))
res = {name: med(cmd) for name, cmd in cases}
for name, ms in res.items():
    print("%-20s %7.1f ms (median of 30)" % (name, ms))
f = res["fabc --list"]
for name, ms in res.items():
    if name != "fabc --list":
        print("fabc --list / %-18s = %.2fx" % (name, f / ms))
PY
