"""Checks of a running deployment.

    fabc tests.fast:production     SSH and HTTP health of every server
    fabc tests.slow:staging &      steady load with latency percentiles
"""
import time

from fabc import (task, env, execute, parallel, puts, abort, run, settings,
                  hide)
from fabc import http
from . import _deploy as d


def _stack(envname):
    s = d.settings_for(envname)
    cloud = d.connect(s)
    stack = cloud.heat.get(s["stack_name"])
    if stack is None or stack.status.startswith("DELETE"):
        abort("env %s: there is no stack %s (fabc stack.create:env=%s,"
              "tag=...)" % (envname, s["stack_name"], envname))
    tag, addrs, _ = d.stack_state(stack)
    if not addrs:
        abort("stack %s has no server addresses in its outputs (status %s)"
              % (s["stack_name"], stack.status))
    return s, stack, tag, addrs


@parallel
def _ssh_check(s):
    dd = d.app_dir(s, env.host)
    r = run("cat %s/current/VERSION 2>/dev/null || echo -; "
            "sh %s/current/appctl.sh %s status" % (dd, dd, dd),
            quiet=True, warn_only=True)
    lines = (r.stdout or "").splitlines() or ["-"]
    return {"release": lines[0].strip(),
            "app": (lines[1].split()[0] if len(lines) > 1 else "stopped"),
            "ok": r.succeeded}


@task
def fast(env):
    """SSH and /health checks of every server against the stack's tag.

    Prints a table; fails if any server is not right."""
    s, stack, tag, addrs = _stack(env)
    hosts = d.host_strings(s, addrs)
    with settings(hide("running", "warnings", "status"), **d.ssh_env(s)):
        ssh = execute(_ssh_check, s, hosts=hosts)
    health = d.check_health(s, addrs, tag)
    rows, bad = [], []
    for a, h in zip(addrs, hosts):
        sr = ssh.get(h)
        ok_h, status, version, ms, why = health[a]
        if isinstance(sr, BaseException):
            ssh_col, app_col, rel = "FAIL", "-", "-"
            why = why or "ssh: %s" % sr
        else:
            ssh_col, app_col, rel = "ok", sr["app"], sr["release"]
        good = ok_h and not isinstance(sr, BaseException) and \
            app_col == "running" and rel == tag
        if not good:
            bad.append((a, why or "app %s, release %s" % (app_col, rel)))
        rows.append((a, ssh_col, app_col, rel, str(status or "-"),
                     version or "-", "%.1f" % ms if ms else "-",
                     "ok" if good else "FAIL"))
    head = ("host", "ssh", "app", "release", "http", "version", "ms",
            "result")
    widths = [max(len(str(r[i])) for r in rows + [head])
              for i in range(len(head))]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    puts("tests.fast %s: stack %s, tag %s" % (env, s["stack_name"], tag),
         show_prefix=False)
    puts(fmt % head, show_prefix=False)
    for r in rows:
        puts(fmt % r, show_prefix=False)
    if bad:
        abort("tests.fast %s: %d of %d servers failed: %s" % (
            env, len(bad), len(addrs),
            "; ".join("%s: %s" % b for b in bad)))
    puts("tests.fast %s: all %d servers serve %s" % (env, len(addrs), tag),
         show_prefix=False)
    return {a: "ok" for a in addrs}


def _percentile(sorted_ms, p):
    if not sorted_ms:
        return 0.0
    k = min(len(sorted_ms) - 1, max(0, int(round(p / 100.0 *
                                                  (len(sorted_ms) - 1)))))
    return sorted_ms[k]


@task
def slow(env, duration=None, rate=None):
    """Steady load on every server: request count, errors, latencies.

    Safe in the background during an update (it only reads). Fails if
    any request failed."""
    s, stack, tag, addrs = _stack(env)
    ts = s.get("tests_slow") or {}
    duration = float(duration or ts.get("duration", 20))
    rate = float(rate or ts.get("rate", 20))
    urls = [d.health_url(s, a) for a in addrs]
    total = max(1, int(duration * rate))
    interval = 1.0 / rate
    lat, errors, versions = [], {}, {}
    puts("tests.slow %s: %d requests over %.0fs at %.0f/s across %d "
         "servers" % (env, total, duration, rate, len(urls)),
         show_prefix=False)
    start = time.monotonic()
    for i in range(total):
        due = start + i * interval
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        url = urls[i % len(urls)]
        try:
            r = http.get(url, timeout=5)
            lat.append(r.elapsed * 1000.0)
            if r.status != 200:
                errors[url] = errors.get(url, 0) + 1
            else:
                try:
                    v = r.json().get("version")
                    versions[v] = versions.get(v, 0) + 1
                except ValueError:
                    pass
        except Exception as e:  # count every failure, keep going
            errors[url] = errors.get(url, 0) + 1
            errors.setdefault("_last", {})[url] = str(e)
    elapsed = time.monotonic() - start
    last = errors.pop("_last", {})
    nerr = sum(errors.values())
    lat.sort()
    report = {"requests": total, "errors": nerr,
              "seconds": round(elapsed, 2),
              "p50_ms": round(_percentile(lat, 50), 2),
              "p90_ms": round(_percentile(lat, 90), 2),
              "p99_ms": round(_percentile(lat, 99), 2),
              "max_ms": round(lat[-1], 2) if lat else 0.0,
              "versions": versions}
    puts("tests.slow %s: %d requests in %.1fs, %d errors, latency p50 "
         "%.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; versions seen: %s"
         % (env, total, elapsed, nerr, report["p50_ms"], report["p90_ms"],
            report["p99_ms"], report["max_ms"],
            ", ".join("%s x%d" % kv for kv in sorted(versions.items(),
                                                      key=str))),
         show_prefix=False)
    if nerr:
        abort("tests.slow %s: %d of %d requests failed (%s)" % (
            env, nerr, total, "; ".join("%s: %d, last: %s" % (
                u, n, last.get(u, "HTTP error")) for u, n in
                errors.items())))
    return report
