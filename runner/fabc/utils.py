"""abort, warn, puts, fastprint — Fabric 1 utilities."""
import _fabc
from .state import env, output, emit


class AbortException(SystemExit):
    pass


def _host_prefix():
    h = env.get("host_string")
    return "[%s] " % h if h and env.get("output_prefix", True) else ""


def abort(msg):
    """Stop the task: the runner prints 'Fatal error: msg' and the run
    exits 1 (fabc.TaskError, which execute() reports per host)."""
    raise _fabc.TaskError(msg)


def warn(msg):
    """Print a warning and go on."""
    if output.warnings:
        emit("\nWarning: %s\n\n" % msg, 2)


def puts(text, show_prefix=None, end="\n", flush=False):
    """Print text with the current host prefix (if any)."""
    if not output.user:
        return
    if show_prefix is None:
        show_prefix = True
    prefix = _host_prefix() if show_prefix else ""
    text = str(text)
    if prefix:
        text = "\n".join(prefix + line for line in text.split("\n"))
    emit(text + end)


def fastprint(text, show_prefix=False, end="", flush=True):
    puts(text, show_prefix=show_prefix, end=end, flush=flush)


def indent(text, spaces=4, strip=False):
    if not isinstance(text, str):
        text = "\n".join(text)
    lines = text.split("\n")
    if strip:
        lines = [l.strip() for l in lines]
    return "\n".join(" " * spaces + l for l in lines)


def debug(msg):
    if output.debug:
        emit("[debug] %s\n" % msg, 2)
