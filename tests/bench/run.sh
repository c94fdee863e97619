#!/bin/sh
# Run every benchmark (tests/bench/*/run.sh); each prints its ratios.
set -u
here=$(cd "$(dirname "$0")" && pwd)
for b in "$here"/*/run.sh; do
    echo "=== $(basename "$(dirname "$b")")"
    sh "$b" || echo "(benchmark $(basename "$(dirname "$b")") failed: $?)"
done
