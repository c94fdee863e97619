#!/bin/sh
# make demo: the reference deployment end to end on the loopback lab
# (make demo has already installed the packages, built fabc and started
# the lab). Each step is a plain fabc command, as a user would type it.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fabc="$root/bin/fabc"
# the lab's clouds.yaml is named in config.yaml: no OS_* from the caller
unset OS_AUTH_URL OS_CLOUD OS_USERNAME OS_PASSWORD OS_PROJECT_NAME \
      OS_AUTH_TYPE OS_TOKEN 2>/dev/null || true
log=$root/build/demo
mkdir -p "$log"
summary=""
failed=0
t0=$(date +%s)

step() {
    name=$1
    shift
    echo
    echo "=== $name"
    echo "\$ fabc $*"
    s=$(date +%s)
    "$fabc" "$@"
    rc=$?
    took=$(( $(date +%s) - s ))
    if [ $rc = 0 ]; then
        summary="$summary
  ok      ${took}s  fabc $*"
    else
        summary="$summary
  FAILED  ${took}s  fabc $*  (exit $rc)"
        failed=$((failed + 1))
    fi
    return $rc
}

# A clean slate, so the demo can run again: a stack or images left over
# from an interrupted run go first.
"$fabc" --yes -q stack.delete:lab >/dev/null 2>&1
for t in v1 v2; do
    "$fabc" -q images.delete:$t,force=yes >/dev/null 2>&1
done

step "build release v1 and its image" images.build:v1 &&
step "create the lab stack on v1, deploy, check health" \
    stack.create:env=lab,tag=v1 &&
step "fast tests" tests.fast:lab &&
step "build release v2" images.build:v2 && {
    echo
    echo "=== steady load in the background during the update"
    echo "\$ fabc tests.slow:lab,duration=70 &"
    "$fabc" tests.slow:lab,duration=70 >"$log/slow.log" 2>&1 &
    slow=$!
    sleep 1
    step "rolling update to v2 (tests.fast, stack.update, tests.fast)" \
        update:env=lab,tag=v2
    wait $slow
    rc=$?
    echo
    echo "=== the steady load's report"
    cat "$log/slow.log"
    if [ $rc = 0 ]; then
        summary="$summary
  ok            fabc tests.slow:lab,duration=70 (during the update)"
    else
        summary="$summary
  FAILED        fabc tests.slow:lab,duration=70 (during the update; exit $rc)"
        failed=$((failed + 1))
    fi
} &&
step "roll back to v1" rollback:env=lab,tag=v1
step "delete the stack" --yes stack.delete:lab
step "delete the v1 images" images.delete:v1
step "delete the v2 images" images.delete:v2

echo
echo "=== demo summary ($(( $(date +%s) - t0 ))s)"
echo "$summary" | sed '/^$/d'
grep -h "tests.slow lab:.*errors" "$log/slow.log" 2>/dev/null | tail -1
if [ $failed -gt 0 ]; then
    echo "$failed step(s) failed"
    exit 1
fi
echo "every step succeeded"
