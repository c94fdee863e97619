"""The runner: what happens between the C command line and the tasks.

main(opts) is called by embed.c with the parsed command line (a dict, see
embed.c cli_dict) and returns the exit status:
0 ok, 1 a task failed, 2 usage / unknown task / bad arguments,
3 task package or config not loadable, 130 interrupted.
"""
import os
import sys
import time

import _fabc
from . import state, tasks as _tasks
from .state import env, output, emit
from .config import config, load as load_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOAD, EXIT_INTERRUPTED = \
    0, 1, 2, 3, 130


class Exit(Exception):
    """Stop the run with an exit status (message already printed)."""

    def __init__(self, code):
        Exception.__init__(self, code)
        self.code = code


def err(msg):
    emit("fabc: %s\n" % msg, 2)


# ---- the task package ----------------------------------------------------

def find_package(path):
    """The task package directory (or a single .py file) to load."""
    if path:
        p = os.path.abspath(os.path.expanduser(path))
        if os.path.isfile(p) and p.endswith(".py"):
            return p
        if os.path.isdir(p):
            if os.path.isfile(os.path.join(p, "__init__.py")):
                return p
            sub = os.path.join(p, "tasks")
            if os.path.isdir(sub):
                return sub
            if os.path.basename(p) == "tasks":
                return p
            err("-f %s: not a task package (no __init__.py and no tasks/ "
                "directory in it)" % path)
            raise Exit(EXIT_LOAD)
        err("-f %s: no such file or directory" % path)
        raise Exit(EXIT_LOAD)
    d = os.getcwd()
    while True:
        cand = os.path.join(d, "tasks")
        if os.path.isdir(cand):
            return cand
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _import_file(modname, filename, pkgdir=None):
    # a module the package already imported itself (from . import x) is
    # used as it is, never executed twice
    mod = sys.modules.get(modname)
    if mod is not None and getattr(mod, "__file__", None) and \
            os.path.abspath(mod.__file__) == os.path.abspath(filename):
        return mod
    # The frozen bootstrap modules are loaded already; importlib.util
    # would import contextlib and more for the same two functions.
    from importlib._bootstrap import module_from_spec
    from importlib._bootstrap_external import spec_from_file_location
    spec = spec_from_file_location(
        modname, filename,
        submodule_search_locations=[pkgdir] if pkgdir else None)
    mod = module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return mod


def _collect(mod, prefix, registry, listing):
    """Register the tasks of module `mod` under `prefix`."""
    exported = getattr(mod, "__all__", None)
    for attr, obj in list(vars(mod).items()):
        if not isinstance(obj, _tasks.Task):
            continue
        if exported is not None:
            if attr not in exported:
                continue
        elif getattr(obj.wrapped, "__module__", None) != mod.__name__:
            continue
        names = [obj.name] + list(obj.aliases)
        for i, n in enumerate(names):
            full = prefix + n
            registry[full] = obj
            listing.append((full, obj, i > 0))
        if obj.is_default and prefix:
            registry[prefix[:-1]] = obj


def _walk(pkgname, pkgdir, prefix, registry, listing):
    for entry in sorted(os.listdir(pkgdir)):
        if entry.startswith(("_", ".")):
            continue
        full = os.path.join(pkgdir, entry)
        if entry.endswith(".py") and os.path.isfile(full):
            name = entry[:-3]
            mod = _import_file("%s.%s" % (pkgname, name), full)
            _collect(mod, prefix + name + ".", registry, listing)
        elif os.path.isdir(full) and \
                os.path.isfile(os.path.join(full, "__init__.py")):
            sub = "%s.%s" % (pkgname, entry)
            mod = _import_file(sub, os.path.join(full, "__init__.py"),
                               full)
            _collect(mod, prefix + entry + ".", registry, listing)
            _walk(sub, full, prefix + entry + ".", registry, listing)


def load_tasks(pkg):
    """Import the package and every public module in it; returns
    (registry {dotted name: Task}, listing [(name, task, is_alias)])."""
    registry, listing = {}, []
    try:
        if os.path.isfile(pkg):
            sys.path.insert(0, os.path.dirname(pkg))
            mod = _import_file(os.path.basename(pkg)[:-3], pkg)
            _collect(mod, "", registry, listing)
        else:
            name = os.path.basename(pkg.rstrip("/")) or "tasks"
            sys.path.insert(0, os.path.dirname(pkg.rstrip("/")))
            init = os.path.join(pkg, "__init__.py")
            if os.path.isfile(init):
                mod = _import_file(name, init, pkg)
            else:
                import types
                mod = types.ModuleType(name)
                mod.__path__ = [pkg]
                sys.modules[name] = mod
            _collect(mod, "", registry, listing)
            _walk(name, pkg, "", registry, listing)
    except SyntaxError as e:
        col = ":%d" % e.offset if e.offset else ""
        err("cannot load task file %s:%s%s: %s" % (
            e.filename, e.lineno, col, e.msg))
        if e.text:
            emit("    %s\n" % e.text.rstrip("\n"), 2)
        raise Exit(EXIT_LOAD)
    except (KeyboardInterrupt, Exit):
        raise
    except BaseException as e:
        err("cannot load the task package %s: %s: %s" % (
            pkg, type(e).__name__, e))
        print_short_tb(e, pkg)
        raise Exit(EXIT_LOAD)
    _tasks._registry.clear()
    _tasks._registry.update(registry)
    return registry, listing


def print_short_tb(e, pkgdir):
    """The frames of a traceback that are in the task files."""
    import traceback
    root = os.path.dirname(os.path.abspath(pkgdir)) if pkgdir else ""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not root or os.path.abspath(f.filename).startswith(root)]
    frames = [f for f in frames if "/fabc/" not in f.filename or
              not f.filename.endswith(("/tasks.py", "/_runner.py"))]
    for f in frames[-5:]:
        emit('  File "%s", line %d, in %s\n' % (f.filename, f.lineno,
                                                f.name), 2)
        if f.line:
            emit("    %s\n" % f.line, 2)


# ---- signatures ----------------------------------------------------------

def _target(t):
    f = t.wrapped if isinstance(t, _tasks.Task) else t
    while hasattr(f, "__wrapped__"):
        f = f.__wrapped__
    return f


def signature(t, name):
    f = _target(t)
    code = getattr(f, "__code__", None)
    if code is None:
        return "%s(...)" % name
    n, kwn = code.co_argcount, code.co_kwonlyargcount
    names = code.co_varnames
    defaults = f.__defaults__ or ()
    kwdefaults = f.__kwdefaults__ or {}
    parts = []
    first_default = n - len(defaults)
    for i in range(n):
        if i >= first_default:
            parts.append("%s=%r" % (names[i], defaults[i - first_default]))
        else:
            parts.append(names[i])
    idx = n + kwn
    if code.co_flags & 0x04:
        parts.append("*" + names[idx])
        idx += 1
    elif kwn:
        parts.append("*")
    for k in names[n:n + kwn]:
        parts.append("%s=%r" % (k, kwdefaults[k]) if k in kwdefaults else k)
    if code.co_flags & 0x08:
        parts.append("**" + names[idx])
    return "%s(%s)" % (name, ", ".join(parts))


def check_args(t, name, args, kwargs):
    """None if the call binds, else the reason."""
    f = _target(t)
    code = getattr(f, "__code__", None)
    if code is None:
        return None
    n, kwn = code.co_argcount, code.co_kwonlyargcount
    names = code.co_varnames
    varargs, varkw = code.co_flags & 0x04, code.co_flags & 0x08
    defaults = f.__defaults__ or ()
    kwdefaults = f.__kwdefaults__ or {}
    if len(args) > n and not varargs:
        return "takes %d positional argument%s but %d %s given" % (
            n, "" if n == 1 else "s", len(args),
            "was" if len(args) == 1 else "were")
    bound = set(names[:min(len(args), n)])
    allowed = set(names[:n + kwn])
    for k in kwargs:
        if k in bound:
            return "got two values for argument '%s'" % k
        if k not in allowed and not varkw:
            return "got an unexpected argument '%s'" % k
    missing = [p for p in names[:n - len(defaults)]
               if p not in bound and p not in kwargs]
    missing += [k for k in names[n:n + kwn]
                if k not in kwdefaults and k not in kwargs]
    if missing:
        return "missing argument%s %s" % (
            "" if len(missing) == 1 else "s",
            ", ".join("'%s'" % m for m in missing))
    return None


def first_line(doc):
    for line in (doc or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


# ---- reporting -----------------------------------------------------------

def describe(e):
    """'Type: message' of an exception, with the host where useful."""
    msg = str(e) or repr(e)
    return "%s: %s" % (type(e).__name__, msg)


def jsonable(v):
    import json
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return repr(v)


def error_dict(e):
    d = {"type": type(e).__name__, "message": str(e)}
    for attr in ("host", "command", "return_code", "status", "method",
                 "url", "request_id", "file", "line", "column"):
        v = getattr(e, attr, None)
        if v not in (None, "", 0) or attr == "return_code" and v == 0 \
                and hasattr(e, "return_code"):
            d[attr] = v if isinstance(v, (int, float, str)) else str(v)
    return d


def write_report(path, report):
    import json
    text = json.dumps(report, indent=2, sort_keys=False) + "\n"
    if path == "-":
        emit(text)
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def summary(runs):
    """Per-host summary lines for all tasks that ran on hosts."""
    hosts = {}
    for name, results in runs:
        for r in results:
            if r.host == _tasks.LOCAL_ONLY:
                continue
            hosts.setdefault(r.host, []).append((name, r))
    if not hosts:
        return
    nfail = sum(1 for rs in hosts.values()
                if any(not r.ok for _, r in rs))
    emit("\nSummary: %d host%s, %d ok, %d failed\n" % (
        len(hosts), "" if len(hosts) == 1 else "s", len(hosts) - nfail,
        nfail))
    for h, rs in hosts.items():
        for name, r in rs:
            if r.ok:
                emit("  ok      %s  %s (%.2fs)\n" % (h, name, r.elapsed))
            else:
                tag = "SKIPPED" if r.skipped else "FAILED "
                emit("  %s %s  %s: %s\n" % (tag, h, name,
                                            describe(r.error)))


# ---- main ----------------------------------------------------------------

def apply_options(o):
    """Command-line options into env and output (--set lowest)."""
    for k, v in o["set"]:
        env[k] = True if v is None else v
    if o["hosts"]:
        env.hosts = list(o["hosts"])
    if o["roles"]:
        env.roles = list(o["roles"])
    if o["exclude_hosts"]:
        env.exclude_hosts = list(o["exclude_hosts"])
    if o["user"]:
        env.user = o["user"]
    if o["identities"]:
        env.key_filename = list(o["identities"])
    for k in ("forward_agent", "parallel", "warn_only", "skip_bad_hosts",
              "accept_new_hosts", "dry_run", "yes"):
        if o[k]:
            env[k] = True
    for k in ("pool_size", "timeout", "command_timeout",
              "connection_attempts"):
        if o[k] is not None:
            env[k] = o[k]
    if o["gateway"]:
        env.gateway = o["gateway"]
    if o["ssh_config"]:
        env.ssh_config_path = os.path.expanduser(o["ssh_config"])
        env.use_ssh_config = True
    if o["known_hosts"]:
        env.known_hosts = os.path.expanduser(o["known_hosts"])
    v = o["verbosity"]
    if v < 0:
        for lvl in ("status", "running", "warnings"):
            output[lvl] = False
    if v >= 1:
        output["debug"] = v >= 2
        output["exceptions"] = True
    env.verbosity = v
    for lvl in state.expand_levels(o["hide"]):
        output[lvl] = False
    for lvl in state.expand_levels(o["show"]):
        output[lvl] = True


def resolve_specs(o, registry):
    """[(name, Task, args, kwargs, spec)] or Exit(2)."""
    calls = []
    for spec in o["specs"]:
        name = spec["name"]
        t = registry.get(name)
        if t is None:
            import difflib
            close = difflib.get_close_matches(name, list(registry), n=3,
                                              cutoff=0.5)
            err("task '%s' not found%s" % (
                name, "; did you mean: %s?" % ", ".join(close) if close
                else " (fabc --list shows the tasks)"))
            raise Exit(EXIT_USAGE)
        args = [v for k, v in spec["args"] if k is None]
        kwargs = {k: v for k, v in spec["args"] if k is not None}
        why = check_args(t, name, args, kwargs)
        if why:
            err("task '%s' %s\n  signature: %s" % (
                name, why, signature(t, name)))
            raise Exit(EXIT_USAGE)
        calls.append((name, t, args, kwargs, spec))
    return calls


def do_list(listing, short):
    names = sorted(set(n for n, _, _ in listing))
    if short:
        emit("".join(n + "\n" for n in names))
        return
    if not names:
        emit("No tasks found.\n")
        return
    by_name = {n: t for n, t, _ in listing}
    width = max(len(n) for n in names)
    lines = ["Available tasks:\n\n"]
    for n in names:
        doc = first_line(by_name[n].__doc__)
        lines.append(("    %-*s  %s" % (width, n, doc)).rstrip() + "\n")
    emit("".join(lines))


def do_display(registry, name):
    t = registry.get(name)
    if t is None:
        import difflib
        close = difflib.get_close_matches(name, list(registry), n=3)
        err("task '%s' not found%s" % (
            name, "; did you mean: %s?" % ", ".join(close) if close else ""))
        raise Exit(EXIT_USAGE)
    doc = (t.__doc__ or "No docstring provided").strip("\n")
    import textwrap
    emit("Displaying detailed information for task '%s':\n\n    %s\n\n%s\n"
         % (name, signature(t, name),
            textwrap.indent(textwrap.dedent(doc), "    ")))


def run_command(command, calls_hosts):
    """fabc -H h1,h2 -- CMD: run CMD on every host."""
    from . import remote

    def anonymous():
        return remote.run(command)
    anonymous.__name__ = "<remote command>"
    return _tasks.run_task(anonymous, "<remote command>", (), {},
                           calls_hosts)


def main(o):
    t_start = time.time()
    report = {"fabc": _fabc.version, "started": t_start, "tasks": [],
              "exit_code": None}
    runs = []
    code = EXIT_OK
    try:
        try:
            _fabc.out_configure(True, sys.stdout.isatty() and
                                not o["no_colour"] and
                                "NO_COLOR" not in os.environ)
            apply_options(o)
            code = _main(o, report, runs)
        except Exit as e:
            code = e.code
        except ValueError as e:  # bad --hide/--show level, bad host string
            err(str(e))
            code = EXIT_USAGE
        except _fabc.ConfigError as e:
            err(str(e))
            code = EXIT_LOAD
    except KeyboardInterrupt:
        _fabc.cancel()
        emit("\nStopped.\n", 2)
        code = EXIT_INTERRUPTED
    finally:
        if "fabc.remote" in sys.modules:
            try:
                sys.modules["fabc.remote"].disconnect_all()
            except Exception as e:  # closing must not hide the result
                err("while disconnecting: %s" % describe(e))
    if runs and code != EXIT_USAGE:
        summary(runs)
    if o["json"]:
        report["exit_code"] = code
        report["elapsed"] = round(time.time() - t_start, 6)
        try:
            write_report(o["json"], report)
        except OSError as e:
            err("cannot write the JSON report %s: %s" % (o["json"],
                                                        e.strerror))
            if code == EXIT_OK:
                code = EXIT_FAILED
    if code == EXIT_OK and runs and output.status:
        emit("\nDone.\n")
    return code


def _main(o, report, runs):
    pkg = find_package(o["tasks_path"])
    needs_tasks = bool(o["specs"] or o["list"] or o["shortlist"] or
                       o["display"])
    if pkg is None and needs_tasks:
        err("no task package found: no tasks/ directory here or in any "
            "parent of %s (use -f PATH)" % os.getcwd())
        return EXIT_LOAD
    # config: -c PATH, else config.yaml beside the task package
    cpath = o["config_path"]
    if cpath:
        cpath = os.path.abspath(os.path.expanduser(cpath))
        if not os.path.isfile(cpath):
            err("-c %s: no such file" % o["config_path"])
            return EXIT_LOAD
    elif pkg:
        cand = os.path.join(os.path.dirname(pkg.rstrip("/")), "config.yaml")
        cpath = cand if os.path.isfile(cand) else None
    if cpath:
        try:
            load_config(cpath, [(k, v) for k, v in o["set"]])
        except _fabc.ConfigError as e:
            err(str(e))
            return EXIT_LOAD
    registry, listing = load_tasks(pkg) if pkg else ({}, [])
    if o["list"] or o["shortlist"]:
        do_list(listing, o["shortlist"])
        return EXIT_OK
    if o["display"]:
        do_display(registry, o["display"])
        return EXIT_OK
    calls = resolve_specs(o, registry)
    if o["command"]:
        hl = _tasks.host_list(None)
        if not hl:
            err("no hosts to run '%s' on (give -H or -R)" % o["command"])
            return EXIT_USAGE
        calls.append(("<remote command>", None, [], {}, None))
    env.tasks = [c[0] for c in calls]
    for name, t, args, kwargs, spec in calls:
        t0 = time.monotonic()
        if t is None:
            hl = _tasks.host_list(None)
            results = run_command(o["command"], hl)
        else:
            hl = _tasks.host_list(t, hosts=spec["hosts"],
                                  roles=spec["roles"],
                                  exclude_hosts=spec["exclude_hosts"])
            layer = state.push(env_over={"all_hosts": hl,
                                         "command": name})
            try:
                results = _tasks.run_task(t, name, args, kwargs, hl)
            finally:
                state.pop(layer)
        runs.append((name, results))
        report["tasks"].append({
            "name": name, "args": args, "kwargs": kwargs,
            "elapsed": round(time.monotonic() - t0, 6),
            "status": "ok" if all(r.ok or r.skipped for r in results)
            else "failed",
            "hosts": [{
                "host": r.host,
                "status": "ok" if r.ok else
                ("skipped" if r.skipped else "failed"),
                "elapsed": round(r.elapsed, 6),
                **({"result": jsonable(r.value)} if r.ok else
                   {"error": error_dict(r.error)}),
            } for r in results]})
        failed = [r for r in results if not r.ok and not r.skipped]
        if any(isinstance(r.error, KeyboardInterrupt) for r in failed):
            raise KeyboardInterrupt
        for r in results:
            if not r.ok:
                report_failure(name, r, pkg, several=len(failed) > 1)
        if len(failed) > 1:
            emit("\nFatal error: %d hosts failed while executing task "
                 "'%s': %s\n" % (len(failed), name,
                                 ", ".join(r.host for r in failed)), 2)
        if failed:
            emit("\nAborting.\n", 2)
            return EXIT_FAILED
    return EXIT_OK


def report_failure(name, r, pkg, several=False):
    """One host's failure: 'Fatal error: ...' when it is the only one,
    else an error line per host (the run ends with one Fatal error)."""
    e = r.error
    where = "" if r.host == _tasks.LOCAL_ONLY else "[%s] " % r.host
    if r.skipped:
        emit("\nWarning: %sskipped (unreachable): %s\n" % (where,
                                                          describe(e)), 2)
        return
    if isinstance(e, SystemExit) and not isinstance(e, Exception):
        msg = "%stask '%s' exited with status %s" % (where, name, e.code)
    else:
        msg = "%stask '%s' failed: %s" % (where, name, describe(e))
    emit("\n%s%s\n" % ("Error: " if several else "Fatal error: ", msg), 2)
    if not isinstance(e, (_fabc.CommandError, _fabc.TaskError)) \
            or output.exceptions:
        print_short_tb(e, pkg)
