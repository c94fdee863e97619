"""Top-level tasks of the test package."""
import json
import threading

from fabc import (task, env, config, execute, hosts, roles, parallel,
                  serial, runs_once, with_settings, local, puts, abort,
                  warn)

from . import deploy as _deploy_module  # noqa: F401 (imported once only)

env.roledefs = {
    "web": ["w1", "w2"],
    "db": {"hosts": ["d1"]},
    "dyn": lambda: ["x1", "x2"],
}


@task
def echo(*args, **kwargs):
    """Print the arguments as JSON."""
    puts(json.dumps({"args": list(args), "kwargs": kwargs},
                    ensure_ascii=False))
    return {"args": list(args), "kwargs": kwargs}


@task
def where():
    """Print the host this runs for."""
    puts("HOST=%s USER=%s PORT=%s" % (env.host_string, env.user, env.port))
    return env.host_string


@task
@hosts("h1", "h2")
def pinned():
    """A task with @hosts."""
    return env.host_string


@task
@roles("web", "db")
def byrole():
    """A task with @roles."""
    return env.host_string


_barrier = {}


@task
@parallel
def meet(n):
    """All n hosts must be inside at once (proves parallelism)."""
    b = _barrier.setdefault("b", threading.Barrier(int(n), timeout=20))
    b.wait()
    return env.host_string


_active = {"now": 0, "max": 0}
_lock = threading.Lock()


@task
def count():
    """Record the maximum number of hosts running at once."""
    import time
    with _lock:
        _active["now"] += 1
        _active["max"] = max(_active["max"], _active["now"])
    time.sleep(0.2)
    with _lock:
        _active["now"] -= 1
    return _active["max"]


@task
@serial
def one_by_one():
    """Serial even with -P."""
    return count()


@task
@parallel(pool_size=2)
def two_at_a_time():
    """At most two hosts at once."""
    return count()


@task
def chatter(lines="200"):
    """Print many lines locally (output must never mix)."""
    local("i=0; while [ $i -lt %d ]; do echo \"line-$i-of-%s\"; "
          "i=$((i+1)); done" % (int(lines), env.host_string))


@task
def boom():
    """Raise an error from the task file."""
    value = {"a": 1}
    return value["missing"]


@task
def fail_on(bad):
    """Fail on one host only."""
    if env.host_string == bad:
        abort("host %s is bad" % bad)
    return "ok"


@task
def show_env(key):
    """Print env[key]."""
    puts("%s=%r" % (key, env.get(key)))
    return env.get(key)


@task
def show_config(name):
    """Print config.env(name) as JSON."""
    d = config.env(name)
    puts(json.dumps(d, sort_keys=True, default=str))
    return d


_calls = []


@runs_once
def _setup():
    _calls.append(1)
    return len(_calls)


@task
def once():
    """Call a runs_once function on every host."""
    return _setup()


@task
@with_settings(warn_only=True)
def lenient():
    """with_settings(warn_only=True): a failing local() only warns."""
    r = local("exit 3", capture=True)
    return r.return_code


@task
def fan(bad="h2"):
    """execute() on three hosts; returns what execute returned."""
    res = execute(fail_on, bad, hosts=["h1", "h2", "h3"])
    out = {h: (v if not isinstance(v, BaseException) else
               "%s: %s" % (type(v).__name__, v)) for h, v in res.items()}
    puts(json.dumps(out, sort_keys=True))
    return out


@task
def by_name():
    """execute() a task by its dotted name."""
    return execute("deploy.ship", "v9")


@task
def warns():
    """warn() and go on."""
    warn("careful")
    return 1


@task(name="renamed", alias="rn")
def _orig_name():
    """A task with name= and alias=."""
    return "renamed"
