#!/bin/sh
# Start the whole loopback lab: sshd hosts and OpenStack (Keystone, Heat,
# Glance). Idempotent. State lives in tests/lab/run/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/sshd-start.sh"
sh "$here/openstack-start.sh"
echo "lab: up (state in $here/run)"
