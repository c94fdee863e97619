"""fabc — Fabric-style deployment tasks with native primitives.

Everything a task file needs::

    from fabc import task, env, config, run, sudo, put, local, cd, ...

SSH, cloud and HTTP primitives load on first use, so a task package that
only lists or runs local commands never pays for them.
"""
import _fabc
from _fabc import (Error, ConnectionError, AuthError, HostKeyError,
                   CommandError, TimeoutError, CloudError, TemplateError,
                   ConfigError, TaskError, TransferError)

from .state import env, output
from .result import Result
from .tasks import (Task, task, hosts, roles, runs_once, serial, parallel,
                    with_settings, execute)
from .utils import abort, warn, puts, fastprint, indent
from .context import (cd, lcd, path, prefix, settings, hide, show,
                      shell_env, warn_only, quiet)
from .operations import local, prompt, confirm
from .config import config

__version__ = _fabc.version

# name -> (module, attribute): imported on first access (PEP 562).
_LAZY = {
    "run": ("fabc.remote", "run"),
    "sudo": ("fabc.remote", "sudo"),
    "put": ("fabc.remote", "put"),
    "get": ("fabc.remote", "get"),
    "Group": ("fabc.remote", "Group"),
    "disconnect_all": ("fabc.remote", "disconnect_all"),
    "upload_template": ("fabc.files", "upload_template"),
    "render": ("_fabc", "render"),
    "render_file": ("_fabc", "render_file"),
    "openstack": ("fabc.openstack", None),
    "http": ("fabc.http", None),
    "remote": ("fabc.remote", None),
    "files": ("fabc.files", None),
}


def __getattr__(name):
    try:
        modname, attr = _LAZY[name]
    except KeyError:
        raise AttributeError("module 'fabc' has no attribute %r" % name) \
            from None
    import importlib
    try:
        mod = importlib.import_module(modname)
        value = mod if attr is None else getattr(mod, attr)
    except (ImportError, AttributeError) as e:
        raise AttributeError("fabc.%s is not available in this build (%s)"
                             % (name, e)) from None
    globals()[name] = value
    return value


__all__ = [
    "Error", "ConnectionError", "AuthError", "HostKeyError", "CommandError",
    "TimeoutError", "CloudError", "TemplateError", "ConfigError",
    "TaskError", "TransferError", "env", "output", "Result", "Task", "task",
    "hosts", "roles", "runs_once", "serial", "parallel", "with_settings",
    "execute", "abort", "warn", "puts", "fastprint", "indent", "cd", "lcd",
    "path", "prefix", "settings", "hide", "show", "shell_env", "warn_only",
    "quiet", "local", "prompt", "confirm", "config",
] + sorted(_LAZY)
