"""Run-wide state: ``env`` and ``output``, Fabric 1 style, thread-aware.

Fabric 1 ran parallel hosts in processes, so ``env`` could be one global
dict. fabc runs them in threads, so reads go through the current thread's
stack of overrides (pushed by ``settings()``, ``hide()``/``show()`` and the
per-host context the runner sets up) before the global dict. Assigning
``env.x = v`` writes to the innermost override that already has ``x``
(so a host's ``host_string`` stays that host's), else to the global dict,
which is what a Fabric 1 task that sets ``env.roledefs`` expects.
"""
import os
from _thread import _local

import _fabc

# _thread._local, not threading.local: importing threading costs start-up
# time that `fabc --list` need not pay.
_tls = _local()


def _stack():
    s = getattr(_tls, "stack", None)
    if s is None:
        s = _tls.stack = []
    return s


class _AttrDict(object):
    """Attribute dict with a thread-local override stack."""

    __slots__ = ("_base", "_name")

    def __init__(self, base, name):
        object.__setattr__(self, "_base", base)
        object.__setattr__(self, "_name", name)

    def _layers(self):
        return [layer[self._name] for layer in reversed(_stack())
                if self._name in layer]

    def __getitem__(self, key):
        for layer in self._layers():
            if key in layer:
                return layer[key]
        return self._base[key]

    def __setitem__(self, key, value):
        for layer in self._layers():
            if key in layer:
                layer[key] = value
                return
        self._base[key] = value

    def __delitem__(self, key):
        for layer in self._layers():
            if key in layer:
                del layer[key]
                return
        del self._base[key]

    def __contains__(self, key):
        return any(key in layer for layer in self._layers()) or \
            key in self._base

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __delattr__(self, key):
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args, **kw):
        for k, v in dict(*args, **kw).items():
            self[k] = v

    def snapshot(self):
        """A plain dict of what this thread sees now."""
        d = dict(self._base)
        for layer in reversed(self._layers()):
            d.update(layer)
        return d

    def keys(self):
        return self.snapshot().keys()

    def items(self):
        return self.snapshot().items()

    def values(self):
        return self.snapshot().values()

    def __iter__(self):
        return iter(self.snapshot())

    def __len__(self):
        return len(self.snapshot())

    def __repr__(self):
        return "<%s %r>" % (self._name, self.snapshot())


def _default_user():
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER", "root")


_home = os.path.expanduser("~")

env = _AttrDict({
    "abort_on_prompts": False,
    "accept_new_hosts": False,
    "all_hosts": [],
    "always_use_pty": False,
    "combine_stderr": False,
    "command": None,
    "command_prefixes": [],
    "command_timeout": None,
    "connection_attempts": 1,
    "cwd": "",
    "dedupe_hosts": True,
    "dry_run": False,
    "effective_roles": [],
    "exclude_hosts": [],
    "forward_agent": False,
    "gateway": None,
    "host": None,
    "host_string": None,
    "hosts": [],
    "keepalive": 0,
    "key_filename": [],
    "known_hosts": os.path.join(_home, ".ssh", "known_hosts"),
    "lcwd": "",
    "linewise": False,
    "local_user": _default_user(),
    "ok_ret_codes": [0],
    "output_prefix": True,
    "parallel": False,
    "password": None,
    "passwords": {},
    "pool_size": 0,
    "port": "22",
    "roledefs": {},
    "roles": [],
    "shell": "/bin/bash -l -c",
    "shell_env": {},
    "skip_bad_hosts": False,
    "ssh_config_path": os.path.join(_home, ".ssh", "config"),
    "sudo_password": None,
    "sudo_passwords": {},
    "sudo_prefix": "sudo -S -p '%(sudo_prompt)s' ",
    "sudo_prompt": "sudo password:",
    "sudo_user": None,
    "tasks": [],
    "timeout": 10,
    "use_shell": True,
    "use_ssh_config": True,
    "user": _default_user(),
    "version": _fabc.version,
    "warn_only": False,
    "yes": False,
}, "env")

_LEVELS = ("status", "aborts", "warnings", "running", "stdout", "stderr",
           "user", "debug", "exceptions")
ALIASES = {
    "output": ["stdout", "stderr"],
    "everything": ["warnings", "running", "user", "output"],
    "commands": ["stdout", "running"],
}

output = _AttrDict({k: k not in ("debug", "exceptions") for k in _LEVELS},
                   "output")


def expand_levels(names):
    """Expand Fabric output aliases into plain level names."""
    out = []
    for n in names:
        if n in ALIASES:
            out.extend(expand_levels(ALIASES[n]))
        elif n in _LEVELS:
            out.append(n)
        else:
            raise ValueError("unknown output level %r (levels: %s; aliases:"
                             " %s)" % (n, ", ".join(_LEVELS),
                                       ", ".join(sorted(ALIASES))))
    return out


def push(env_over=None, output_over=None):
    """Push an override layer for this thread; returns it for pop()."""
    layer = {}
    if env_over is not None:
        layer["env"] = dict(env_over)
    if output_over is not None:
        layer["output"] = dict(output_over)
    _stack().append(layer)
    return layer


def pop(layer):
    s = _stack()
    if s and s[-1] is layer:
        s.pop()
    else:
        s.remove(layer)


def inherit():
    """The override stack of this thread, to seed a worker thread."""
    return [dict((k, dict(v)) for k, v in layer.items())
            for layer in _stack()]


def adopt(stack):
    """Install a stack captured by inherit() in the current thread."""
    _tls.stack = stack


def emit(text, stream=1):
    """Write text to stdout (1) or stderr (2) atomically."""
    _fabc.out_raw(stream, text)
