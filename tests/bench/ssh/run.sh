#!/bin/sh
# tests/bench/ssh/run.sh — fabc's SSH engine against peer tools.
#
# Starts its own sshd lab (BENCH_HOSTS, default 500 hosts on 127.0.0.x /
# 127.0.1.x, 32 sshd instances) under tests/lab/run/ssh-bench, runs
# bench.py (fan-out at 10/50/100/200 hosts vs Fabric 2 ThreadingGroup,
# parallel-ssh, xargs -P ssh, ansible if installed; 500 concurrent
# sessions; SFTP put/get vs OpenSSH sftp/scp and Fabric), prints medians
# and ratios, and stops the lab. Nothing is asserted.
#   REPS=5 SIZES="10 50 100 200" SFTP_MB=512 BENCH_HOSTS=500
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
lab=$root/tests/lab/run/ssh-bench
port=${BENCH_PORT:-2399}
export SSH_LAB_DIR="$lab" SSH_LAB_HOSTS="${BENCH_HOSTS:-500}" \
       SSH_LAB_PORT="$port" SSH_LAB_FIRST=100
trap 'sh "$root/tests/lab/sshd-stop.sh"' EXIT INT TERM
sh "$root/tests/lab/sshd-start.sh"
# a private copy, so a rebuild during the run cannot disturb it
# (it finds its Python package at <exe>/../runner)
mkdir -p "$lab/bin"
cp "${FABC:-$root/bin/fabc}" "$lab/bin/fabc"
ln -sfn "$root/runner" "$lab/runner"
BENCH_LAB="$lab" BENCH_PORT="$port" FABC="$lab/bin/fabc" \
    /usr/bin/python3 "$here/bench.py"
