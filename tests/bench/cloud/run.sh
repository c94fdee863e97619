#!/bin/sh
# tests/bench/cloud/run.sh — Heat stack create+wait and delete+wait of the
# same template, fabc against the OpenStack client (Debian
# python3-openstackclient), in the same run on the loopback lab.
#
# Reports per tool: wall time, client CPU (user+system of the client
# process and its children) and the number of HTTP requests the client
# made (counted in separate --debug runs, so logging does not slow the
# timed runs). Prints ratios fabc/openstack; never asserts.
#
#   sh tests/bench/cloud/run.sh [RUNS]      (default 3; medians reported)
#
# Needs the lab (make lab) and bin/fabc (make). FABC overrides the binary.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
FABC=${FABC:-$ROOT/bin/fabc}
RUNS=${1:-3}
PY=/usr/bin/python3
TEMPLATE=$ROOT/heat/test-stack.yaml
OPENRC=$ROOT/tests/lab/run/openrc
OUT=$(mktemp -d /tmp/fabc-bench-cloud.XXXXXX)
cleanup() { # delete any stack a failed run left behind, then the scratch
    local n
    for n in $(cat "$OUT/names" 2>/dev/null); do
        "$FABC" -f "$ROOT/tasks" --hide status,running \
            "stack.delete:name=$n" > /dev/null 2>&1 || true
    done
    rm -rf "$OUT"
}
trap cleanup EXIT

[ -x "$FABC" ] || { echo "no $FABC: run make first" >&2; exit 2; }
command -v openstack > /dev/null || {
    echo "no openstack client (apt-get install python3-openstackclient)" >&2
    exit 2; }
[ -s "$OPENRC" ] || sh "$ROOT/tests/lab/openstack-start.sh"
# shellcheck disable=SC1090
. "$OPENRC"
unset OS_CLOUD

PARAMS_FABC="tag=v1,instance_count=1"
PARAMS_OSC="--parameter tag=v1 --parameter instance_count=1"

measure() { "$PY" "$HERE/measure.py" "$@" 2>> "$OUT/log" | tail -1; }

fabc_create() {
    "$FABC" -f "$ROOT/tasks" --hide status,running \
        "stack.create:name=$1,template=$TEMPLATE,$PARAMS_FABC" "${@:2}"
}
fabc_delete() {
    "$FABC" -f "$ROOT/tasks" --hide status,running "stack.delete:name=$1" \
        "${@:2}"
}
osc_create() {
    # shellcheck disable=SC2086
    openstack stack create --wait -t "$TEMPLATE" $PARAMS_OSC "$1" "${@:2}"
}
osc_delete() { openstack stack delete --wait -y "$1" "${@:2}"; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_tool() { # run_tool TOOL : RUNS timed create+delete cycles
    local tool=$1 i name r
    for i in $(seq 1 "$RUNS"); do
        name=bench-$tool-$$-$i
        echo "$name" >> "$OUT/names"
        r=$(measure bash -c "$(declare -f fabc_create fabc_delete \
            osc_create osc_delete); FABC='$FABC' ROOT='$ROOT' \
            TEMPLATE='$TEMPLATE' PARAMS_FABC='$PARAMS_FABC' \
            PARAMS_OSC='$PARAMS_OSC'; ${tool}_create $name")
        echo "$r" | awk '{print $1}' >> "$OUT/$tool.create.wall"
        echo "$r" | awk '{print $2}' >> "$OUT/$tool.create.cpu"
        [ "$(echo "$r" | awk '{print $3}')" = 0 ] ||
            { echo "warning: $tool create exited $(echo "$r" | awk '{print $3}'): timing not comparable:";
              tail -2 "$OUT/log" | cut -c1-300; } >&2
        r=$(measure bash -c "$(declare -f fabc_delete osc_delete); \
            FABC='$FABC' ROOT='$ROOT'; ${tool}_delete $name")
        echo "$r" | awk '{print $1}' >> "$OUT/$tool.delete.wall"
        echo "$r" | awk '{print $2}' >> "$OUT/$tool.delete.cpu"
        [ "$(echo "$r" | awk '{print $3}')" = 0 ] ||
            { echo "warning: $tool delete exited $(echo "$r" | awk '{print $3}'): timing not comparable:";
              tail -2 "$OUT/log" | cut -c1-300; } >&2
    done
}

count_requests() { # count_requests TOOL : one --debug cycle, requests made
    # (up to 3 tries: a run that failed is not counted; n/a if none ran)
    local tool=$1 name n1=n/a n2=n/a try pat
    [ "$tool" = fabc ] && pat=' REQ [A-Z]* http' || pat='^REQ: curl'
    for try in 1 2 3; do
        name=bench-$tool-$$-debug$try
        echo "$name" >> "$OUT/names"
        if ${tool}_create "$name" --debug > "$OUT/dbg" 2>&1; then
            n1=$(grep -c "$pat" "$OUT/dbg" || true)
            if ${tool}_delete "$name" --debug > "$OUT/dbg" 2>&1; then
                n2=$(grep -c "$pat" "$OUT/dbg" || true)
                break
            fi
        fi
        n1=n/a
        n2=n/a
    done
    echo "$n1 $n2"
}

echo "cloud bench: $RUNS runs per tool, template $(basename "$TEMPLATE") " \
     "(3 resources, one a ResourceGroup of 1)"
run_tool fabc
run_tool osc
read -r fc fd <<< "$(count_requests fabc)"
read -r oc od <<< "$(count_requests osc)"

m() { median < "$OUT/$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
printf '\n%-10s %-8s %10s %10s %10s\n' tool step wall_s cpu_s requests
for t in fabc osc; do
    for s in create delete; do
        if [ $t = fabc ]; then [ $s = create ] && n=$fc || n=$fd;
        else [ $s = create ] && n=$oc || n=$od; fi
        printf '%-10s %-8s %10s %10s %10s\n' "$t" "$s" "$(m $t.$s.wall)" \
            "$(m $t.$s.cpu)" "$n"
    done
done
echo
for s in create delete; do
    printf 'ratio fabc/openstack %-6s wall %s  cpu %s  requests %s\n' "$s" \
        "$(ratio "$(m fabc.$s.wall)" "$(m osc.$s.wall)")" \
        "$(ratio "$(m fabc.$s.cpu)" "$(m osc.$s.cpu)")" \
        "$(ratio "$( [ $s = create ] && echo "$fc" || echo "$fd")" \
                 "$( [ $s = create ] && echo "$oc" || echo "$od")")"
done
echo "(targets from the issue: wall <= 0.5x, client CPU <= 0.1x)"
