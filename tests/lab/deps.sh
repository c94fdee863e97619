#!/bin/sh
# Install every Debian package fabc's build, tests and lab need.
# Idempotent; needs root (apt-get). Usage: sh tests/lab/deps.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pkgs=$(cat "$here"/packages.txt "$here"/*-packages.txt 2>/dev/null |
       sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "deps: all $(echo $pkgs | wc -w) packages installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing" >&2
    echo "deps: run as root (apt-get install)" >&2
    exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Never let package installs start services on this machine.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
fi
rc=0
apt-get update -qq || rc=$?
if [ $rc = 0 ]; then
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing || rc=$?
fi
[ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
exit $rc
