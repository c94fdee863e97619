#!/bin/sh
# valgrind memcheck of whole fabc runs: `fabc --list` and a failing run.
# The interpreter's own allocations are suppressed with Debian's
# python3.supp (CPython's valgrind-python.supp) plus tests/valgrind.supp;
# any error left is ours and fails the check. Usage: tests/valgrind.sh BIN
set -eu
bin=${1:-bin/fabc}
here=$(cd "$(dirname "$0")" && pwd)
pkg="$here/integration/pkgs/basic"
supp="--suppressions=$here/valgrind.supp"
[ -f /usr/lib/valgrind/python3.supp ] &&
    supp="$supp --suppressions=/usr/lib/valgrind/python3.supp"
vg="valgrind -q --error-exitcode=99 --leak-check=no $supp"
export PYTHONMALLOC=malloc
status=0
check() {
    want=$1; shift
    set +e
    (cd "$pkg" && $vg "$@" >/tmp/fabc-vg.out 2>/tmp/fabc-vg.err)
    rc=$?
    set -e
    if [ "$rc" != "$want" ]; then
        echo "valgrind: '$*' exited $rc (want $want)"
        cat /tmp/fabc-vg.err
        status=1
    else
        echo "valgrind: '$*' clean (exit $rc)"
    fi
}
abs=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
check 0 "$abs" --list
check 1 "$abs" boom
check 1 "$abs" -H a,b -P fail_on:b
check 0 "$abs" deploy.sh:echo,timeout=5
exit $status
