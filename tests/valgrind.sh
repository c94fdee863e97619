#!/bin/sh
# valgrind memcheck of whole fabc runs: the host (--list, a failing task,
# a parallel failure, local()), the SSH engine (run on two hosts at once,
# SFTP put and get, a refused host), and the cloud client (a Heat stack
# created, read and deleted with waits; a Glance upload, tag, list and
# delete) against the real loopback lab, which is started if it is not up.
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

# the SSH engine and SFTP against the lab's sshd hosts
root=$(cd "$here/.." && pwd)
sh "$root/tests/lab/start.sh" > /tmp/fabc-vg-lab.log 2>&1 ||
    { cat /tmp/fabc-vg-lab.log; exit 1; }
ssh="--ssh-config $root/tests/lab/run/ssh/ssh_config"
ops="-f $root/tests/integration/pkgs/ssh_ops"
scratch=$(mktemp -d /tmp/fabc-vg.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
head -c 3000000 /dev/urandom > "$scratch/blob"
check 0 "$abs" $ssh -H 127.0.0.10,127.0.0.11 -P -- 'uname -s; seq 1 2000'
check 0 "$abs" $ssh $ops -H 127.0.0.10 \
    "push:$scratch/blob,$scratch/remote" "pull:$scratch/remote,$scratch/back"
cmp "$scratch/blob" "$scratch/back" ||
    { echo "valgrind: SFTP round trip changed the file"; status=1; }
# 127.0.0.9 has no sshd: a refused connection, exit 1
check 1 "$abs" $ssh -H 127.0.0.9 -- true

# the cloud client against the lab's Keystone, Heat and Glance
set -a
. "$root/tests/lab/run/openrc"
set +a
unset OS_CLOUD
cloud="-f $root/tests/integration/pkgs/cloud_ops"
tag=fabc-vg-$$
check 0 "$abs" $cloud "lifecycle:$tag"
check 0 "$abs" $cloud "glance_flow:$tag,$scratch/blob"
# a wrong password: Keystone's 401, exit 1
good=$OS_PASSWORD
OS_PASSWORD=wrong-$$
check 1 "$abs" $cloud "lifecycle:$tag-x"
OS_PASSWORD=$good
exit $status
