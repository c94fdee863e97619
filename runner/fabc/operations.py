"""local(), prompt(), confirm() and the shell-command composition shared
with the remote operations (Fabric 1's _shell_wrap / _prefix_*)."""
import sys

import _fabc
from .result import Result
from .state import env, output, emit
from .utils import warn


def shell_escape(s):
    """Escape for inside double quotes (Fabric 1: " $ ` and \\)."""
    for c in ("\\", '"', "$", "`"):
        s = s.replace(c, "\\" + c)
    return s


def sh_quote(s):
    """Single-quote a word for a POSIX shell."""
    s = str(s)
    if s and all(c.isalnum() or c in "@%+=:,./-_" for c in s):
        return s
    return "'" + s.replace("'", "'\"'\"'") + "'"


def env_exports(shell_env):
    """'export A="1" B="2" && ' for env.shell_env (values escaped)."""
    if not shell_env:
        return ""
    parts = []
    for k, v in shell_env.items():
        if not k.replace("_", "a").isalnum() or k[0].isdigit():
            raise ValueError("shell_env: %r is not a valid variable name"
                             % (k,))
        parts.append('%s="%s"' % (k, shell_escape(str(v))))
    return "export " + " ".join(parts) + " && "


def prefix_commands(command, which):
    """Prepend cd/lcd, PATH changes and prefix() commands."""
    cwd = env.get("cwd" if which == "remote" else "lcwd") or ""
    prefixes = list(env.get("command_prefixes") or [])
    if cwd:
        prefixes.insert(0, "cd %s" % sh_quote_path(cwd))
    p = env.get("path")
    if p:
        beh = env.get("path_behavior", "append")
        if beh == "append":
            prefixes.insert(0, 'export PATH="$PATH:%s"' % shell_escape(p))
        elif beh == "prepend":
            prefixes.insert(0, 'export PATH="%s:$PATH"' % shell_escape(p))
        else:
            prefixes.insert(0, 'export PATH="%s"' % shell_escape(p))
    glue = " && "
    return (glue.join(prefixes) + glue if prefixes else "") + command


def sh_quote_path(p):
    """Quote a path but keep a leading ~ expandable."""
    if p == "~":
        return p
    if p.startswith("~/"):
        return "~/" + sh_quote(p[2:])
    return sh_quote(p)


def local(command, capture=False, shell=None, *, warn_only=None,
          timeout=None, quiet=False):
    """Run a command on this machine through /bin/sh (or `shell`).

    Output is streamed line by line (prefixed with the host when a host
    task runs it) unless capture=True or stdout is hidden; the Result
    always holds stdout and stderr. A failing command raises CommandError
    unless warn_only (then it warns and returns the failed Result).
    """
    if warn_only is None:
        warn_only = quiet or env.get("warn_only", False)
    full = prefix_commands(env_exports(env.get("shell_env")) + command,
                           "local")
    host = env.get("host_string")
    if output.running and not quiet:
        emit("[%s] local: %s\n" % (host, command) if host
             else "[localhost] local: %s\n" % command)
    stream = not capture and not quiet and output.stdout
    if timeout is None:
        timeout = env.get("command_timeout")
    if env.get("dry_run"):
        emit("[%s] would run locally: %s\n" % (host or "localhost", full))
        return Result("", command=command, real_command=full,
                      host="localhost")
    rc, sig, out, err, elapsed = _fabc.local(
        full, shell=shell or "/bin/sh", stream=stream,
        label=(host if host and env.get("output_prefix", True) else None),
        timeout=timeout)
    ok = env.get("ok_ret_codes") or [0]
    res = Result(out, stderr=err, return_code=rc, command=command,
                 real_command=full, host="localhost", elapsed=elapsed,
                 signal=sig or None, ok_codes=ok)
    if res.failed:
        why = ("killed by signal %d" % sig) if sig else \
            "exit status %d" % rc
        msg = "local() encountered an error (%s) while executing '%s'" % (
            why, command)
        if warn_only:
            warn(msg)
        else:
            e = _fabc.CommandError(msg)
            e.host, e.command, e.return_code = "localhost", command, rc
            e.stdout, e.stderr, e.result = res.stdout, res.stderr, res
            raise e
    return res


def prompt(text, key=None, default="", validate=None):
    """Ask on the terminal (Fabric's prompt); aborts when not a terminal
    or in parallel mode."""
    if env.get("parallel") or not sys.stdin.isatty():
        raise _fabc.TaskError("needed to prompt (%r) but there is no "
                              "terminal to ask%s" % (
                                  text, " in parallel mode"
                                  if env.get("parallel") else ""))
    while True:
        suffix = " [%s] " % default if default else " "
        emit(text.rstrip() + suffix)
        answer = sys.stdin.readline()
        if not answer:
            raise _fabc.TaskError("no answer to prompt %r (end of input)"
                                  % text)
        answer = answer.strip() or default
        if validate is None:
            break
        if callable(validate):
            try:
                answer = validate(answer)
                break
            except Exception as e:
                emit("Validation failed: %s\n" % e)
        else:
            import re
            if re.match(validate, answer):
                break
            emit("Regular expression validation failed: %r does not "
                 "match %r\n" % (answer, validate))
    if key:
        env[key] = answer
    return answer


def confirm(question, default=True):
    """Ask a yes/no question; --yes answers yes; no terminal means no."""
    if env.get("yes"):
        return True
    if not sys.stdin.isatty():
        return False
    suffix = "[Y/n]" if default else "[y/N]"
    while True:
        emit("%s %s " % (question, suffix))
        a = sys.stdin.readline()
        if not a:
            return False
        a = a.strip().lower()
        if not a:
            return default
        if a in ("y", "yes"):
            return True
        if a in ("n", "no"):
            return False
        emit("I didn't understand you. Please specify '(y)es' or "
             "'(n)o'.\n")
