#!/bin/sh
# openstack-stop.sh -- stop exactly what openstack-start.sh started: the
# PIDs in the state directory's pids/*.pid, each checked against its
# expected command line first. Never by process name.
#   --purge  also delete databases, images, keys and logs
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OS=${FABC_LAB_OS_DIR:-$HERE/run/openstack}
PIDS=$OS/pids
PURGE=0
[ "${1:-}" = --purge ] && PURGE=1
PGBIN=/usr/lib/postgresql/15/bin
T0=$(date +%s%N)
say() {
    echo "[lab openstack stop +$(( ($(date +%s%N) - T0) / 1000000 ))ms] $*" >&2
}
[ -d "$OS" ] || { say "nothing to stop ($OS does not exist)"; exit 0; }

# ours NAME PATTERN: print the pid of pids/NAME.pid if it is alive and ours
ours() {
    local f=$PIDS/$1.pid pid
    [ -s "$f" ] || return 1
    pid=$(tr -dc 0-9 < "$f")
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
        tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$2"; then
        echo "$pid"
        return 0
    fi
    rm -f "$f"
    return 1
}
# heat-all ignores SIGTERM and stops on SIGINT; uwsgi's master stops its
# workers on SIGINT; glance-api stops on SIGTERM.
pids=""
names=""
for spec in glance-api:glance-api:TERM heat-all:heat-all:INT \
        'keystone:uwsgi.*keystone:INT'; do
    IFS=: read -r name pat sig <<< "$spec"
    if pid=$(ours "$name" "$pat"); then
        # a stopped (SIGSTOP) process must be continued to see the signal
        kill -s CONT "$pid" 2>/dev/null
        kill -s "$sig" "$pid" 2>/dev/null && {
            pids="$pids $pid"
            names="$names $name"
        }
    fi
done
for i in $(seq 1 150); do
    alive=0
    for pid in $pids; do
        if [ -d /proc/$pid ] &&
            [ "$(cut -d' ' -f3 < /proc/$pid/stat 2>/dev/null)" != Z ]; then
            alive=1
        fi
    done
    [ $alive = 0 ] && break
    sleep 0.1
done
set -- $names
for pid in $pids; do
    if [ -d /proc/$pid ] &&
        [ "$(cut -d' ' -f3 < /proc/$pid/stat 2>/dev/null)" != Z ]; then
        say "$1 ($pid) still running after 15s: KILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    say "$1 ($pid) stopped"
    rm -f "$PIDS/$1.pid"
    shift
done
PGDATA=$(cat "$OS/pgdata.path" 2>/dev/null || echo "$OS/data/pg")
if [ -s "$PGDATA/postmaster.pid" ] &&
    su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$PGDATA' status" \
        > /dev/null 2>&1; then
    su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$PGDATA' -m fast -w -t 30 stop" \
        > /dev/null && say "postgres stopped"
fi
rm -f "$PIDS/postgres.pid"
if [ $PURGE = 1 ]; then
    rm -rf "$OS/data" "$OS/logs" "$OS/etc/keystone/fernet-keys" \
        "$OS/etc/keystone/credential-keys" "$OS/etc/tls" "$PIDS"
    case "$PGDATA" in /var/tmp/fabc-lab-pg-*) rm -rf "$(dirname "$PGDATA")" ;; esac
    say "purged"
fi
say "done"
