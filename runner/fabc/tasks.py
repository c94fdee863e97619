"""The task model: @task and its decorators, host lists, execute().

Per-host execution is serial by default; @parallel or -P runs a task on
up to pool_size hosts at once in Python threads (the primitives release
the GIL while they wait). Each host runs with its own env layer
(host_string, host, user, port) in its thread.
"""
import time
from _thread import allocate_lock

import _fabc
from . import state
from .state import env, output, emit

LOCAL_ONLY = "<local-only>"


class Task(object):
    """A task: the wrapped function plus its options."""

    def __init__(self, func, name=None, aliases=(), default=False):
        self.wrapped = func
        self.name = name or func.__name__
        self.aliases = tuple(aliases)
        self.is_default = default
        self.__doc__ = func.__doc__
        self.__name__ = getattr(func, "__name__", self.name)
        self.__module__ = getattr(func, "__module__", None)
        self.__wrapped__ = func

    def _opt(self, attr, default=None):
        return getattr(self.wrapped, attr, default)

    @property
    def hosts(self):
        return self._opt("hosts", [])

    @property
    def roles(self):
        return self._opt("roles", [])

    def __call__(self, *args, **kwargs):
        return self.wrapped(*args, **kwargs)

    def __repr__(self):
        return "<Task %s>" % self.name


def _func_of(obj):
    return obj.wrapped if isinstance(obj, Task) else obj


def task(*args, **kwargs):
    """Mark a function as a task: @task, or @task(name=, alias=,
    aliases=, default=)."""
    invoked = bool(not args or kwargs)
    if not invoked:
        return Task(args[0])

    def wrapper(func):
        aliases = list(kwargs.get("aliases", ()))
        if kwargs.get("alias"):
            aliases.append(kwargs["alias"])
        return Task(func, name=kwargs.get("name"), aliases=aliases,
                    default=kwargs.get("default", False))
    if args and callable(args[0]):
        return wrapper(args[0])
    return wrapper


def _set(obj, attr, value):
    setattr(_func_of(obj), attr, value)
    return obj


def hosts(*host_list):
    """@hosts('a', 'b') or @hosts(['a', 'b']): the task's default hosts."""
    if len(host_list) == 1 and not isinstance(host_list[0], str):
        host_list = host_list[0]
    return lambda f: _set(f, "hosts", list(host_list))


def roles(*role_list):
    """@roles('web', 'db'): the task's default roles."""
    if len(role_list) == 1 and not isinstance(role_list[0], str):
        role_list = role_list[0]
    return lambda f: _set(f, "roles", list(role_list))


def serial(func):
    """Always run this task one host at a time, even with -P."""
    _set(func, "parallel", False)
    return func


def parallel(pool_size=None):
    """@parallel or @parallel(pool_size=N): run on hosts at once."""
    if callable(pool_size):
        _set(pool_size, "parallel", True)
        return pool_size

    def deco(func):
        _set(func, "parallel", True)
        _set(func, "pool_size", pool_size)
        return func
    return deco


def _wraps(wrapper, f):
    """Make wrapper look like f (name, doc, module, options); the real
    signature stays reachable through __wrapped__."""
    for attr in ("__name__", "__doc__", "__module__", "__qualname__"):
        setattr(wrapper, attr, getattr(f, attr, None))
    wrapper.__dict__.update(f.__dict__)
    wrapper.__wrapped__ = f


def runs_once(func):
    """Run the task only once per run (the first result is reused)."""
    f = _func_of(func)
    lock = allocate_lock()
    box = []

    def once(*args, **kwargs):
        with lock:
            if not box:
                box.append(f(*args, **kwargs))
            return box[0]
    _wraps(once, f)
    once.return_value = box
    once.runs_once = True
    if isinstance(func, Task):
        func.wrapped = once
        return func
    return once


def with_settings(*managers, **overrides):
    """Run the task inside settings(*managers, **overrides)."""
    from .context import settings

    def deco(func):
        f = _func_of(func)

        def inner(*args, **kwargs):
            with settings(*managers, **overrides):
                return f(*args, **kwargs)
        _wraps(inner, f)
        if isinstance(func, Task):
            func.wrapped = inner
            return func
        return inner
    return deco


# ---- host strings and host lists ----------------------------------------

def parse_host_string(hs):
    """'[user@]host[:port]' or '[user@][v6addr]:port' -> (user, host,
    port); user/port None when not given."""
    user = port = None
    rest = hs
    if "@" in rest:
        user, rest = rest.rsplit("@", 1)
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError("bad host string %r: missing ']'" % hs)
        host = rest[1:end]
        tail = rest[end + 1:]
        if tail.startswith(":"):
            port = tail[1:]
        elif tail:
            raise ValueError("bad host string %r" % hs)
    elif rest.count(":") == 1:
        host, port = rest.split(":")
    else:
        host = rest  # a bare IPv6 address, or a plain name
    if port is not None and not port.isdigit():
        raise ValueError("bad port in host string %r" % hs)
    if not host:
        raise ValueError("empty host in host string %r" % hs)
    return user, host, port


def join_host_string(user, host, port):
    h = "[%s]" % host if ":" in host else host
    s = "%s@%s" % (user, h) if user else h
    if port and str(port) != "22":
        s += ":%s" % port
    return s


def normalize(hs):
    """Fill in the default user and port (for dedup and display)."""
    user, host, port = parse_host_string(hs)
    return join_host_string(user or env.get("user"), host,
                            port or env.get("port", "22"))


def _role_hosts(role):
    roledefs = env.get("roledefs") or {}
    if role not in roledefs:
        raise _fabc.TaskError(
            "the role %r is not defined in env.roledefs (defined: %s)"
            % (role, ", ".join(sorted(roledefs)) or "none"))
    value = roledefs[role]
    if callable(value):
        value = value()
    if isinstance(value, dict):
        value = value.get("hosts", [])
    if isinstance(value, str):
        value = [value]
    return list(value)


def host_list(task_obj=None, hosts=None, roles=None, exclude_hosts=None):
    """Fabric 1 precedence: per-call hosts/roles (task:host=... on the
    command line, execute(hosts=)) > @hosts/@roles > env.hosts/env.roles
    (set by -H/-R, or by the task module itself at import)."""
    f = _func_of(task_obj) if task_obj is not None else None
    if hosts or roles:
        hs, rs = list(hosts or []), list(roles or [])
    elif f is not None and (getattr(f, "hosts", None) or
                            getattr(f, "roles", None)):
        hs = list(getattr(f, "hosts", None) or [])
        rs = list(getattr(f, "roles", None) or [])
    else:
        hs = list(env.get("hosts") or [])
        rs = list(env.get("roles") or [])
    for r in rs:
        hs.extend(_role_hosts(r))
    excl = set(exclude_hosts or []) | set(env.get("exclude_hosts") or [])
    out, seen = [], set()
    for h in hs:
        h = h.strip()
        if not h or h in excl:
            continue
        key = h
        if env.get("dedupe_hosts", True):
            key = normalize(h)
            if key in seen:
                continue
        seen.add(key)
        out.append(h)
    return out


def _host_layer(hs):
    user, host, port = parse_host_string(hs)
    user = user or env.get("user")
    port = port or str(env.get("port", "22"))
    return {"host_string": hs, "host": host, "user": user, "port": port}


# ---- execution -----------------------------------------------------------

class HostResult(object):
    """One host's outcome of one task (for the summary and --json)."""

    __slots__ = ("host", "ok", "value", "error", "elapsed", "skipped")

    def __init__(self, host, ok, value=None, error=None, elapsed=0.0,
                 skipped=False):
        self.host = host
        self.ok = ok
        self.value = value
        self.error = error
        self.elapsed = elapsed
        self.skipped = skipped


def _skippable(e):
    return env.get("skip_bad_hosts") and isinstance(
        e, (_fabc.ConnectionError, _fabc.HostKeyError))


def _call_on_host(func, name, hs, args, kwargs, stack):
    """Run func for host hs with that host's env layer; HostResult."""
    if stack is not None:
        state.adopt(stack)
    layer = state.push(env_over=_host_layer(hs) if hs != LOCAL_ONLY
                       else {})
    t0 = time.monotonic()
    try:
        if hs != LOCAL_ONLY and output.running:
            emit("[%s] Executing task '%s'\n" % (hs, name))
        value = func(*args, **kwargs)
        return HostResult(hs, True, value=value,
                          elapsed=time.monotonic() - t0)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit from a task counts too
        return HostResult(hs, False, error=e, elapsed=time.monotonic() - t0,
                          skipped=_skippable(e))
    finally:
        state.pop(layer)


def run_task(task_obj, name, args, kwargs, hosts):
    """Run a task on its hosts; returns a list of HostResult in host
    order. Serial mode stops at the first failure (fail-fast), unless the
    failure is an unreachable host and skip_bad_hosts is set."""
    f = _func_of(task_obj)
    if not hosts:
        return [_call_on_host(f, name, LOCAL_ONLY, args, kwargs, None)]
    par = getattr(f, "parallel", None)
    parallel_mode = par is True or (par is None and env.get("parallel"))
    if not parallel_mode or len(hosts) == 1:
        results = []
        for hs in hosts:
            r = _call_on_host(f, name, hs, args, kwargs, None)
            results.append(r)
            if not r.ok and not r.skipped:
                break
        return results
    pool = getattr(f, "pool_size", None) or env.get("pool_size") or 0
    pool = int(pool) if pool else len(hosts)
    return _run_parallel(f, name, hosts, args, kwargs, pool)


def _run_parallel(f, name, hosts, args, kwargs, pool):
    import threading
    results = [None] * len(hosts)
    sem = threading.Semaphore(max(1, pool))
    stack = state.inherit()
    threads = []
    # parallel mode may never prompt
    stack.append({"env": {"parallel": True}})

    def worker(i, hs):
        try:
            results[i] = _call_on_host(
                f, name, hs, args, kwargs,
                [dict(l) for l in stack])
        except KeyboardInterrupt as e:
            results[i] = HostResult(hs, False, error=e)
        finally:
            sem.release()

    try:
        for i, hs in enumerate(hosts):
            while not sem.acquire(timeout=0.2):
                if _fabc.cancelled():
                    raise KeyboardInterrupt
            t = threading.Thread(target=worker, args=(i, hs),
                                 name="fabc-%s" % hs, daemon=True)
            threads.append(t)
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:
        _fabc.cancel()
        deadline = time.monotonic() + 10
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        raise
    for i, r in enumerate(results):
        if r is None:
            results[i] = HostResult(hosts[i], False,
                                    error=_fabc.TaskError("not run"))
    return results


_registry = {}  # dotted name -> Task, filled by the loader


def _resolve(task_ref):
    if isinstance(task_ref, str):
        try:
            return _registry[task_ref], task_ref
        except KeyError:
            raise _fabc.TaskError("execute(): no task named %r" % task_ref)
    if isinstance(task_ref, Task):
        for n, t in _registry.items():
            if t is task_ref:
                return t, n
        return task_ref, task_ref.name
    if callable(task_ref):
        return task_ref, getattr(task_ref, "__name__", repr(task_ref))
    raise TypeError("execute(): expected a task, a callable or a task "
                    "name, not %r" % (task_ref,))


def execute(task_ref, *args, hosts=None, roles=None, exclude_hosts=None,
            **kwargs):
    """Run a task (object, function or dotted name) on its host list, as
    the command line would; returns {host: return value or exception}
    ('<local-only>' when there are no hosts). Per-host failures are
    values in the dict, never raised (check them)."""
    t, name = _resolve(task_ref)
    hl = host_list(t, hosts=hosts, roles=roles, exclude_hosts=exclude_hosts)
    with_hosts = state.push(env_over={"all_hosts": hl})
    try:
        res = run_task(t, name, args, kwargs, hl)
    finally:
        state.pop(with_hosts)
    return {r.host: (r.value if r.ok else r.error) for r in res}
