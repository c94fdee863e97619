#!/bin/sh
# sshd-stop.sh — stop the sshd test hosts started by sshd-start.sh (by PID).
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=${SSH_LAB_DIR:-$here/run/ssh}
[ -d "$dir" ] || exit 0
for f in "$dir"/sshd.*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    # only an sshd started with this lab's config (PIDs get reused)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
       tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null |
           grep -q "sshd -D -f $dir/"; then
        kill "$pid" 2>/dev/null
        t=0
        while kill -0 "$pid" 2>/dev/null && [ "$t" -lt 50 ]; do
            sleep 0.1; t=$(( t + 1 ))
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
done
echo "sshd lab stopped ($dir)"
