#!/bin/sh
# appctl.sh DIR start|stop|status — control the app installed in DIR
# (DIR/current -> releases/TAG, DIR/app.json, DIR/app.pid). start brings
# the new release up beside the running one (SO_REUSEPORT), waits until it
# answers, then stops the old process: no request is dropped.
set -u
dir=$(cd "$1" && pwd) || exit 1
cmd=$2
cd "$dir" || exit 1
pidfile=$dir/app.pid
old=""
[ -s "$pidfile" ] && old=$(cat "$pidfile")
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
case $cmd in
start)
    rm -f "$pidfile.new"
    # the new process writes its pid over app.pid once it listens
    setsid nohup python3 "$dir/current/app.py" --config "$dir/app.json" \
        >>"$dir/app.log" 2>&1 </dev/null &
    new=$!
    i=0
    while [ $i -lt 100 ]; do
        if [ -s "$pidfile" ] && [ "$(cat "$pidfile")" = "$new" ]; then
            break
        fi
        if ! alive "$new"; then
            echo "appctl: the app exited at start; last log lines:" >&2
            tail -n 20 "$dir/app.log" >&2
            exit 1
        fi
        sleep 0.05
        i=$((i + 1))
    done
    if [ "$(cat "$pidfile" 2>/dev/null)" != "$new" ]; then
        echo "appctl: the app did not start listening within 5s" >&2
        kill "$new" 2>/dev/null
        exit 1
    fi
    if alive "$old" && [ "$old" != "$new" ]; then
        kill -TERM "$old"
        i=0
        while alive "$old" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    fi
    echo "started pid $new"
    ;;
stop)
    if alive "$old"; then
        kill -TERM "$old"
        i=0
        while alive "$old" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
        alive "$old" && kill -KILL "$old"
    fi
    rm -f "$pidfile"
    echo "stopped"
    ;;
status)
    if alive "$old"; then echo "running pid $old"; else echo "stopped"; exit 3; fi
    ;;
*)
    echo "usage: appctl.sh DIR start|stop|status" >&2
    exit 2
    ;;
esac
