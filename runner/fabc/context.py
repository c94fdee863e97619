"""Context managers: cd, lcd, path, prefix, settings, hide, show,
shell_env, warn_only, quiet — Fabric 1 semantics, per thread."""
import contextlib
import os

from . import state
from .state import env


@contextlib.contextmanager
def settings(*managers, **overrides):
    """Apply env overrides (and nest other context managers) for the
    duration of the block, in this thread only."""
    with contextlib.ExitStack() as stack:
        for m in managers:
            stack.enter_context(m)
        layer = state.push(env_over=overrides)
        try:
            yield
        finally:
            state.pop(layer)


def _levels(names, value):
    levels = state.expand_levels(names)
    return {lvl: value for lvl in levels}


@contextlib.contextmanager
def hide(*levels):
    """Hide output levels (status, running, stdout, stderr, warnings,
    user, aborts, debug; aliases output, everything, commands)."""
    layer = state.push(output_over=_levels(levels, False))
    try:
        yield
    finally:
        state.pop(layer)


@contextlib.contextmanager
def show(*levels):
    """Show output levels (see hide)."""
    layer = state.push(output_over=_levels(levels, True))
    try:
        yield
    finally:
        state.pop(layer)


def _join(base, path):
    if not base or path.startswith("/") or path.startswith("~"):
        return path
    return base.rstrip("/") + "/" + path


@contextlib.contextmanager
def cd(path):
    """Run remote commands in `path` (relative paths nest)."""
    with settings(cwd=_join(env.get("cwd", ""), path)):
        yield


@contextlib.contextmanager
def lcd(path):
    """Run local commands in `path` (relative paths nest)."""
    base = env.get("lcwd", "") or ""
    new = path if os.path.isabs(path) or path.startswith("~") \
        else os.path.join(base, path) if base else path
    with settings(lcwd=new):
        yield


@contextlib.contextmanager
def path(dir, behavior="append"):
    """Change $PATH for commands: behavior append, prepend or replace."""
    if behavior not in ("append", "prepend", "replace"):
        raise ValueError("path(): behavior must be append, prepend or "
                         "replace, not %r" % (behavior,))
    with settings(path=dir, path_behavior=behavior):
        yield


@contextlib.contextmanager
def prefix(command):
    """Run `command &&` before every command in the block."""
    with settings(command_prefixes=list(env.get("command_prefixes", []))
                  + [command]):
        yield


@contextlib.contextmanager
def shell_env(**kw):
    """Export environment variables to commands in the block."""
    merged = dict(env.get("shell_env", {}))
    merged.update(kw)
    with settings(shell_env=merged):
        yield


def warn_only():
    """A failing command warns and returns instead of aborting."""
    return settings(warn_only=True)


def quiet():
    """Hide everything and only warn on failure (Fabric's quiet)."""
    return settings(hide("everything"), warn_only=True)
