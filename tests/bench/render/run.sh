#!/bin/sh
# Render benchmark: an 80-line haproxy.cfg template over 50 backends,
# rendered N times (default 20000) by fabc (bin/fabc, render_file, compiled
# once) and by Jinja2 (Environment.get_template once, then render). Prints
# renders per second and the ratio; asserts nothing except that both
# engines produced the same text.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
FABC=${FABC:-$root/bin/fabc}
N=${N:-20000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fabc_json=$("$FABC" -f "$here/tasks" "bench:n=$N,out=$tmp/fabc.out" --hide running,status 2>&1 | grep '"engine"')
jinja_json=$(/usr/bin/python3 "$here/bench_jinja2.py" "$N" "$tmp/jinja.out")

/usr/bin/python3 - "$fabc_json" "$jinja_json" "$tmp/fabc.out" "$tmp/jinja.out" <<'PY'
import json, sys
f, j = json.loads(sys.argv[1]), json.loads(sys.argv[2])
same = open(sys.argv[3]).read() == open(sys.argv[4]).read()
print("render bench: haproxy.cfg, %d lines / %d bytes out, %d renders"
      % (j["lines"], j["bytes"], j["renders"]))
print("  %-14s %10.0f renders/s" % (j["engine"], j["per_second"]))
print("  %-14s %10.0f renders/s" % (f["engine"], f["per_second"]))
print("  ratio fabc/jinja2: %.1fx   identical output: %s"
      % (f["per_second"] / j["per_second"], "yes" if same else "NO"))
PY
