#!/bin/sh
# Stop exactly what tests/lab/start.sh started (by PID files).
set -u
here=$(cd "$(dirname "$0")" && pwd)
rc=0
sh "$here/openstack-stop.sh" || rc=$?
sh "$here/sshd-stop.sh" || rc=$?
exit $rc
