"""Context managers: cd, lcd, path, prefix, settings, hide, show,
shell_env, warn_only, quiet — Fabric 1 semantics, per thread.

Plain classes rather than contextlib: importing contextlib (and the
collections it pulls in) costs start-up time every run."""
import os

from . import state
from .state import env


class settings(object):
    """settings(*managers, **env_overrides): enter the given context
    managers, then apply env overrides for the block, in this thread."""

    def __init__(self, *managers, **overrides):
        self._managers = managers
        self._env = overrides
        self._output = None
        self._entered = []
        self._layer = None

    def __enter__(self):
        self._entered = []
        try:
            for m in self._managers:
                m.__enter__()
                self._entered.append(m)
            self._layer = state.push(
                env_over=self._env if self._env or not self._output
                else None,
                output_over=self._output)
        except BaseException:
            self._unwind(None, None, None)
            raise
        return self

    def _unwind(self, et, ev, tb):
        suppressed = False
        while self._entered:
            m = self._entered.pop()
            if m.__exit__(et, ev, tb):
                et = ev = tb = None
                suppressed = True
        return suppressed

    def __exit__(self, et, ev, tb):
        if self._layer is not None:
            state.pop(self._layer)
            self._layer = None
        return self._unwind(et, ev, tb)


def _levels(names, value):
    return {lvl: value for lvl in state.expand_levels(names)}


def hide(*levels):
    """Hide output levels (status, running, stdout, stderr, warnings,
    user, aborts, debug; aliases output, everything, commands)."""
    s = settings()
    s._output = _levels(levels, False)
    return s


def show(*levels):
    """Show output levels (see hide)."""
    s = settings()
    s._output = _levels(levels, True)
    return s


def _join(base, path):
    if not base or path.startswith("/") or path.startswith("~"):
        return path
    return base.rstrip("/") + "/" + path


def cd(path):
    """Run remote commands in `path` (relative paths nest)."""
    return settings(cwd=_join(env.get("cwd", ""), path))


def lcd(path):
    """Run local commands in `path` (relative paths nest)."""
    base = env.get("lcwd", "") or ""
    if os.path.isabs(path) or path.startswith("~") or not base:
        new = path
    else:
        new = os.path.join(base, path)
    return settings(lcwd=new)


def path(dir, behavior="append"):
    """Change $PATH for commands: behavior append, prepend or replace."""
    if behavior not in ("append", "prepend", "replace"):
        raise ValueError("path(): behavior must be append, prepend or "
                         "replace, not %r" % (behavior,))
    return settings(path=dir, path_behavior=behavior)


def prefix(command):
    """Run `command &&` before every command in the block."""
    return settings(command_prefixes=list(env.get("command_prefixes", []))
                    + [command])


def shell_env(**kw):
    """Export environment variables to commands in the block."""
    merged = dict(env.get("shell_env", {}))
    merged.update(kw)
    return settings(shell_env=merged)


def warn_only():
    """A failing command warns and returns instead of aborting."""
    return settings(warn_only=True)


def quiet():
    """Hide everything and only warn on failure (Fabric's quiet)."""
    return settings(hide("everything"), warn_only=True)
