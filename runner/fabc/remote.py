"""Remote operations on the SSH engine: run, sudo, put, get, Group.

Every operation is a job for the C engine (one event loop, libssh2
sessions cached per host). A Group submits one job per host at once, so
N hosts need no Python thread each. Settings come from ``env`` at call
time (see docs/ssh.md).
"""
import os
import posixpath
import stat as _stat
import sys

import _fabc
from .operations import env_exports, prefix_commands, shell_escape, sh_quote
from .result import Result
from .state import env, output, emit
from .utils import warn

__all__ = ["run", "sudo", "put", "get", "Group", "disconnect_all"]

_SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6,
            "BUS": 7, "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11,
            "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15}


# ---------------------------------------------------------------- settings

def _is_tty():
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _can_prompt():
    return (_is_tty() and not env.get("parallel")
            and not env.get("abort_on_prompts"))


def _key_encrypted(path):
    """True if the private key file at path is passphrase-protected."""
    try:
        with open(os.path.expanduser(path), "rb") as f:
            data = f.read(65536)
    except OSError:
        return False
    if b"ENCRYPTED" in data:
        return True
    if b"BEGIN OPENSSH PRIVATE KEY" not in data:
        return False
    import base64
    body = b"".join(l for l in data.splitlines() if l and b"-----" not in l)
    try:
        raw = base64.b64decode(body)
    except ValueError:
        return False
    magic = b"openssh-key-v1\0"
    if not raw.startswith(magic) or len(raw) < len(magic) + 4:
        return False
    n = int.from_bytes(raw[len(magic):len(magic) + 4], "big")
    return raw[len(magic) + 4:len(magic) + 4 + n] != b"none"


_prompted = {}


def _passphrase(keys):
    p = env.get("key_passphrase")
    if p:
        return p
    enc = [k for k in keys if _key_encrypted(k)]
    if not enc or not _can_prompt():
        return None
    if enc[0] not in _prompted:
        import getpass
        _prompted[enc[0]] = getpass.getpass(
            "Passphrase for private key %s: " % enc[0])
    return _prompted[enc[0]]


def _opts(host_string=None, password=None):
    kf = env.get("key_filename") or []
    if isinstance(kf, str):
        kf = [kf]
    cfg = env.get("ssh_config_path") or ""
    default_cfg = os.path.join(os.path.expanduser("~"), ".ssh", "config")
    # as with OpenSSH: ssh_config's UserKnownHostsFile applies unless
    # known_hosts was set (--known-hosts, env.known_hosts) to another file
    kh = env.get("known_hosts") or None
    if kh and os.path.expanduser(kh) == os.path.join(
            os.path.expanduser("~"), ".ssh", "known_hosts"):
        kh = None
    pw = password
    if pw is None:
        pw = (env.get("passwords") or {}).get(host_string) \
            if host_string else None
    if pw is None:
        pw = env.get("password")
    o = {
        "user": env.get("user"),
        "port": env.get("port") or 22,
        "key_filename": list(kf),
        "password": pw,
        "passphrase": _passphrase(kf),
        "gateway": env.get("gateway") or None,
        "ssh_config_path": os.path.expanduser(cfg) if cfg else None,
        "ssh_config_explicit": bool(cfg) and
        os.path.expanduser(cfg) != default_cfg,
        "use_ssh_config": bool(env.get("use_ssh_config", True)) and
        bool(cfg),
        "known_hosts": kh,
        "accept_new_hosts": bool(env.get("accept_new_hosts")),
        "forward_agent": bool(env.get("forward_agent")),
        "no_agent": bool(env.get("no_agent")),
        # the default 10 s leaves room for ssh_config's ConnectTimeout
        "timeout": None if env.get("timeout") in (None, 10, "10")
        else env.get("timeout"),
        "connection_attempts": env.get("connection_attempts") or 1,
        "keepalive": env.get("keepalive") or 0,
    }
    if env.get("disable_known_hosts"):
        o["strict"] = False
    return o


def _label(hs):
    if "@" in hs:
        return hs
    return "%s@%s" % (env.get("user") or env.get("local_user"), hs)


def _hosts_arg(hosts):
    if isinstance(hosts, str):
        hosts = [h.strip() for h in hosts.split(",")]
    return [h for h in hosts if h]


def _submit(jobs, host_string=None):
    """Run jobs; on an auth failure with no password known and a terminal
    at hand, ask for the password once and retry those jobs."""
    opts = _opts(host_string)
    res = _fabc.ssh_submit(jobs, opts)
    if opts["password"] is None and _can_prompt():
        redo = [i for i, r in enumerate(res)
                if isinstance(r, _fabc.AuthError) and
                "sudo" not in str(r)]
        if redo:
            import getpass
            who = jobs[redo[0]][1]
            pw = getpass.getpass("[%s] Login password for '%s': "
                                 % (who, _label(who).split("@")[0]))
            env.password = pw
            again = _fabc.ssh_submit([jobs[i] for i in redo],
                                     _opts(host_string, pw))
            for i, r in zip(redo, again):
                res[i] = r
    return res


# ---------------------------------------------------------- command shape

def _compose(command, shell, sudo=False, user=None, group=None):
    """Fabric 1 composition: [sudo -S -p P -u "u"] SHELL "cd .. && prefix
    && export K="v" && command" with " $ ` \\ escaped."""
    inner = prefix_commands(env_exports(env.get("shell_env")) + command,
                            "remote")
    if shell and env.get("use_shell", True):
        sh = env.get("shell") or "/bin/bash -l -c"
        full = '%s "%s"' % (sh, shell_escape(inner))
    else:
        full = inner
    if sudo:
        prefix = (env.get("sudo_prefix") or
                  "sudo -S -p '%(sudo_prompt)s' ") % {
                      "sudo_prompt": env.get("sudo_prompt")
                      or "sudo password:"}
        if user is None:
            user = env.get("sudo_user")
        if user is not None:
            prefix += '-u "%s" ' % shell_escape(str(user))
        if group is not None:
            prefix += '-g "%s" ' % shell_escape(str(group))
        full = prefix + full
    return full


def _exec_args(hs, real, command, kind, *, pty, timeout, quiet, sudo):
    if timeout is None:
        timeout = env.get("command_timeout")
    if pty is None:
        pty = bool(env.get("always_use_pty"))
    if output.running and not quiet:
        emit("[%s] %s: %s\n" % (_label(hs), kind, command))
    label = _label(hs) if env.get("output_prefix", True) else ""
    a = {"command": real, "pty": bool(pty), "timeout": timeout,
         "label": label, "show_out": bool(output.stdout) and not quiet,
         "show_err": bool(output.stderr) and not quiet}
    if sudo:
        a["prompt"] = env.get("sudo_prompt") or "sudo password:"
        pw = (env.get("sudo_passwords") or {}).get(hs)
        if pw is None:
            pw = env.get("sudo_password")
        if pw is None:
            pw = (env.get("passwords") or {}).get(hs) or env.get("password")
        if pw is not None:
            a["answer"] = str(pw)
    return a


def _to_result(hs, r, command, real, kind, warn_only, quiet=False):
    """Turn an engine answer into a Result, or raise/return the error.
    quiet (Fabric's quiet=True) also keeps the warn_only warning quiet."""
    if isinstance(r, BaseException):
        if not getattr(r, "host", None):
            try:
                r.host = hs
            except AttributeError:
                pass
        return r
    out, err, status, sig, elapsed = r
    if sig:
        rc = 128 + _SIGNALS.get(sig, 0) if status < 0 else status
    else:
        rc = status
    ok = env.get("ok_ret_codes") or [0]
    res = Result(out, stderr=err, return_code=rc, command=command,
                 real_command=real, host=hs, elapsed=elapsed,
                 signal=sig or None, ok_codes=ok)
    if res.failed:
        why = ("killed by signal %s" % sig) if sig else \
            "return code %d" % rc
        msg = ("%s() received %s while executing!\n\nRequested: %s\n"
               "Executed: %s" % (kind, why, command, real))
        if warn_only:
            if not quiet:
                warn("[%s] %s" % (_label(hs), msg))
            return res
        e = _fabc.CommandError("[%s] %s" % (_label(hs), msg))
        e.host, e.command, e.return_code = hs, command, rc
        e.stdout, e.stderr, e.result, e.signal = (res.stdout, res.stderr,
                                                  res, sig)
        return e
    return res


def _current_host():
    hs = env.get("host_string")
    if not hs:
        raise ValueError("no host to run on: give -H/--hosts, @hosts or "
                         "env.host_string")
    return hs


def _exec_many(hosts, command, kind, *, sudo=False, user=None, group=None,
               warn_only=None, timeout=None, pty=None, quiet=False,
               shell=True):
    if warn_only is None:
        warn_only = quiet or env.get("warn_only", False)
    real = _compose(command, shell, sudo=sudo, user=user, group=group)
    if env.get("dry_run"):
        out = {}
        for hs in hosts:
            emit("[%s] would %s: %s\n" % (_label(hs), kind, real))
            out[hs] = Result("", command=command, real_command=real,
                             host=hs)
        return out
    jobs = [("exec", hs, _exec_args(hs, real, command, kind, pty=pty,
                                    timeout=timeout, quiet=quiet,
                                    sudo=sudo)) for hs in hosts]
    res = _submit(jobs, hosts[0] if len(hosts) == 1 else None)
    return {hs: _to_result(hs, r, command, real, kind, warn_only, quiet)
            for hs, r in zip(hosts, res)}


def _one(result):
    if isinstance(result, BaseException):
        raise result
    return result


def run(command, *, warn_only=None, timeout=None, pty=None, quiet=False,
        shell=True):
    """Run a shell command on env.host_string (Fabric 1's run()).

    Returns a Result (stdout as a str, .stderr, .return_code, ...). A
    return code outside env.ok_ret_codes raises CommandError unless
    warn_only (or quiet), which warns and returns the failed Result.
    timeout (default env.command_timeout, -T) closes the channel and
    raises TimeoutError.
    """
    hs = _current_host()
    return _one(_exec_many([hs], command, "run", warn_only=warn_only,
                           timeout=timeout, pty=pty, quiet=quiet,
                           shell=shell)[hs])


def sudo(command, *, user=None, group=None, warn_only=None, timeout=None,
         pty=None, quiet=False, shell=True):
    """Run a command with sudo (-S -p prompt -u user); the password prompt
    is answered from env.sudo_password (else env.password) and never
    echoed. A wrong or missing password raises AuthError."""
    hs = _current_host()
    return _one(_exec_many([hs], command, "sudo", sudo=True, user=user,
                           group=group, warn_only=warn_only,
                           timeout=timeout, pty=pty, quiet=quiet,
                           shell=shell)[hs])


# ------------------------------------------------------------- transfers

class TransferList(list):
    """put()/get() result: the remote (put) or local (get) paths moved,
    with .failed (paths that failed) and .succeeded."""

    def __init__(self, items=(), failed=()):
        super().__init__(items)
        self.failed = list(failed)
        self.succeeded = not self.failed


def _remote_path(p):
    """Make a user's remote path one SFTP understands: ~/x is relative to
    the login directory; relative paths follow env.cwd (cd())."""
    if p in (None, "", "~", "~/"):
        p = ""
    elif p.startswith("~/"):
        p = p[2:]
    cwd = env.get("cwd") or ""
    if p and p.startswith("/"):
        return p
    if cwd:
        if cwd.startswith("~/"):
            cwd = cwd[2:]
        elif cwd == "~":
            cwd = ""
        return posixpath.join(cwd, p) if p else (cwd or ".")
    return p or "."


def _local_path(p):
    p = os.path.expanduser(p)
    lcwd = env.get("lcwd") or ""
    if lcwd and not os.path.isabs(p):
        p = os.path.join(os.path.expanduser(lcwd), p)
    return p


def _fnmatchcase(name, pat):
    # fnmatch (and the re it imports) only when a glob is used
    from fnmatch import fnmatchcase
    return fnmatchcase(name, pat)


def _has_magic(s):
    return any(c in s for c in "*?[")


def _batch(jobs, host_string=None):
    return _submit(jobs, host_string) if jobs else []


def _put_plan(local_path, use_glob):
    """[(local file, relative dest path)], [relative dirs] for a local
    path, glob or directory."""
    import glob as _glob
    lp = _local_path(local_path)
    if use_glob and _has_magic(lp):
        names = sorted(_glob.glob(lp))
        if not names:
            raise ValueError("put: '%s' matches no local file" % local_path)
    else:
        names = [lp]
    files, dirs = [], []
    for n in names:
        if os.path.isdir(n):
            base = os.path.basename(os.path.normpath(n))
            dirs.append(base)
            for root, ds, fs in os.walk(n):
                rel = os.path.relpath(root, os.path.dirname(
                    os.path.normpath(n)))
                for d in sorted(ds):
                    dirs.append(posixpath.join(*rel.split(os.sep), d))
                for f in sorted(fs):
                    files.append((os.path.join(root, f),
                                  posixpath.join(*rel.split(os.sep), f)))
        elif os.path.exists(n):
            files.append((n, os.path.basename(n)))
        else:
            raise ValueError("put: local file '%s' does not exist"
                             % local_path)
    return files, dirs, len(names) > 1 or bool(dirs)


def _put_many(hosts, local_path, remote_path=None, *, mode=None,
              use_sudo=False, mirror_local_mode=False, use_glob=True,
              temp_dir="/tmp"):
    tmpfile = None
    if hasattr(local_path, "read"):
        import tempfile
        data = local_path.read()
        if isinstance(data, str):
            data = data.encode()
        fd, tmpfile = tempfile.mkstemp(prefix="fabc-put-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        files, dirs, multi = [(tmpfile, None)], [], False
    else:
        files, dirs, multi = _put_plan(local_path, use_glob)
    try:
        return _put_run(hosts, files, dirs, multi, remote_path, mode,
                        use_sudo, mirror_local_mode, temp_dir)
    finally:
        if tmpfile:
            os.unlink(tmpfile)


def _put_run(hosts, files, dirs, multi, remote_path, mode, use_sudo,
             mirror_local_mode, temp_dir):
    rp = _remote_path(remote_path)
    results = {h: None for h in hosts}
    # 1. is the remote path a directory?
    st = _batch([("stat", h, {"remote": rp}) for h in hosts])
    isdir = {}
    for h, r in zip(hosts, st):
        if isinstance(r, _fabc.TransferError) or not isinstance(
                r, BaseException):
            isdir[h] = not isinstance(r, BaseException) and \
                _stat.S_ISDIR(r[1])
        else:
            results[h] = r
    live = [h for h in hosts if results[h] is None]

    def dest(h, rel):
        if rel is None:  # file-like object
            return posixpath.join(rp, "upload") if isdir[h] else rp
        if isdir[h] or multi:
            return posixpath.join(rp, rel)
        return rp

    # 2. directories (in order, parents first)
    if multi and any(not isdir[h] for h in live):
        dirs = [""] + list(dirs)  # create the target directory too
    if dirs and not use_sudo:
        jobs, owners = [], []
        for d in dirs:
            for h in live:
                jobs.append(("mkdir", h, {"remote": posixpath.join(rp, d)
                                          if d else rp}))
                owners.append(h)
        for h, r in zip(owners, _batch(jobs)):
            if isinstance(r, BaseException) and results[h] is None:
                results[h] = r
        live = [h for h in live if results[h] is None]
    elif dirs and use_sudo:
        cmd = "mkdir -p " + " ".join(
            sh_quote(posixpath.join(rp, d) if d else rp) for d in dirs)
        r = _exec_many(live, cmd, "sudo", sudo=True, quiet=True)
        for h in live:
            if isinstance(r[h], BaseException):
                results[h] = r[h]
        live = [h for h in live if results[h] is None]
    # 3. the files, all hosts at once
    jobs, meta = [], []
    for h in live:
        for lf, rel in files:
            m = mode
            if m is None and mirror_local_mode:
                m = _stat.S_IMODE(os.stat(lf).st_mode)
            if isinstance(m, str):
                m = int(m, 8)
            target = dest(h, rel)
            if use_sudo:
                tmp = posixpath.join(temp_dir,
                                     "fabc-%s" % os.urandom(16).hex())
                jobs.append(("put", h, {"local": lf, "remote": tmp,
                                        "mode": 0o600}))
                meta.append((h, target, tmp, m))
            else:
                jobs.append(("put", h, {"local": lf, "remote": target,
                                        "mode": m}))
                meta.append((h, target, None, m))
    done = {h: [] for h in hosts}
    failed = {h: [] for h in hosts}
    for (h, target, tmp, m), r in zip(meta, _batch(jobs)):
        if isinstance(r, BaseException):
            failed[h].append(target)
            if results[h] is None:
                results[h] = r
        else:
            done[h].append((target, tmp, m))
    # 4. use_sudo: move into place as root
    if use_sudo:
        by_host = {}
        for h in hosts:
            if done[h]:
                parts = []
                for target, tmp, m in done[h]:
                    # owned by the sudo user, like a file it wrote
                    parts.append("mv -f %s %s && chown \"$(id -u):$(id -g)"
                                 "\" %s" % (sh_quote(tmp), sh_quote(target),
                                             sh_quote(target)))
                    if m is not None:
                        parts.append("chmod %o %s" % (m, sh_quote(target)))
                by_host[h] = " && ".join(parts)
        for h, cmd in by_host.items():
            r = _exec_many([h], cmd, "sudo", sudo=True, quiet=True)[h]
            if isinstance(r, BaseException) and results[h] is None:
                results[h] = r
    out = {}
    for h in hosts:
        if results[h] is not None:
            out[h] = results[h]
        else:
            out[h] = TransferList([t for t, _, _ in done[h]], failed[h])
    return out


def put(local_path, remote_path=None, *, mode=None, use_sudo=False,
        mirror_local_mode=False, use_glob=True, temp_dir="/tmp"):
    """Upload files to env.host_string over SFTP.

    local_path is a file, a directory (copied recursively), a glob, or a
    file-like object; remote_path a file or an existing directory
    (relative paths follow cd(); default: the login directory). mode sets
    the remote permissions (int or octal str); use_sudo uploads to a temp
    path and moves it into place with sudo. Returns the remote paths;
    failures raise TransferError naming the remote path and the cause
    (permission denied, no space left, read-only file system).
    """
    hs = _current_host()
    if output.running:
        emit("[%s] put: %s -> %s\n" % (_label(hs), local_path,
                                       remote_path or "~"))
    return _one(_put_many([hs], local_path, remote_path, mode=mode,
                          use_sudo=use_sudo,
                          mirror_local_mode=mirror_local_mode,
                          use_glob=use_glob, temp_dir=temp_dir)[hs])


def _get_many(hosts, remote_path, local_path=None):
    rp = _remote_path(remote_path)
    if local_path is None:
        local_path = "%(host)s/%(path)s"
    results = {h: None for h in hosts}
    plans = {h: [] for h in hosts}
    # 1. find what to fetch on each host (glob, file or directory)
    if _has_magic(rp):
        base = posixpath.dirname(rp) or "."
        pat = posixpath.basename(rp)
        lst = _batch([("list", h, {"remote": base}) for h in hosts])
        for h, r in zip(hosts, lst):
            if isinstance(r, BaseException):
                results[h] = r
                continue
            for name, t in sorted(r):
                if _fnmatchcase(name, pat):
                    plans[h].append((posixpath.join(base, name), t,
                                     rp))
            if not plans[h]:
                results[h] = _fabc.TransferError(
                    "get %s:%s: no remote file matches" % (_label(h), rp))
    else:
        st = _batch([("stat", h, {"remote": rp}) for h in hosts])
        for h, r in zip(hosts, st):
            if isinstance(r, BaseException):
                results[h] = r
            else:
                plans[h].append((rp, "d" if _stat.S_ISDIR(r[1]) else "f",
                                 rp))
    # 2. expand directories level by level (all hosts at once)
    pending = [(h, p) for h in hosts for p in plans[h] if p[1] == "d"]
    files = {h: [(p[0], p[0]) for p in plans[h] if p[1] != "d"]
             for h in hosts}
    roots = {}
    for h, p in pending:
        roots.setdefault(h, []).append(p[0])
    while pending:
        lst = _batch([("list", h, {"remote": p[0]}) for h, p in pending])
        nxt = []
        for (h, p), r in zip(pending, lst):
            if isinstance(r, BaseException):
                if results[h] is None:
                    results[h] = r
                continue
            for name, t in sorted(r):
                full = posixpath.join(p[0], name)
                if t == "d":
                    nxt.append((h, (full, "d", p[2])))
                else:
                    files[h].append((full, full))
        pending = nxt
    # 3. local names and the transfers
    jobs, meta = [], []
    for h in hosts:
        if results[h] is not None:
            continue
        for remote, _ in files[h]:
            root = None
            for rt in roots.get(h, []):
                if remote.startswith(rt.rstrip("/") + "/"):
                    root = rt
            rel = (posixpath.join(posixpath.basename(root.rstrip("/")),
                                  posixpath.relpath(remote, root))
                   if root else posixpath.basename(remote))
            lp = _local_target(local_path, h, remote, rel,
                               multi=bool(root) or len(files[h]) > 1)
            d = os.path.dirname(lp)
            if d:
                os.makedirs(d, exist_ok=True)
            jobs.append(("get", h, {"remote": remote, "local": lp}))
            meta.append((h, lp))
    got = {h: [] for h in hosts}
    failed = {h: [] for h in hosts}
    for (h, lp), r in zip(meta, _batch(jobs)):
        if isinstance(r, BaseException):
            failed[h].append(lp)
            if results[h] is None:
                results[h] = r
        else:
            got[h].append(lp)
    return {h: results[h] if results[h] is not None
            else TransferList(got[h], failed[h]) for h in hosts}


def _local_target(local_path, h, remote, rel, multi):
    host = h.split("@")[-1]
    if host.startswith("["):
        host = host[1:host.index("]")]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    values = {"host": host, "path": rel if multi else remote.lstrip("/"),
              "basename": posixpath.basename(remote),
              "dirname": posixpath.dirname(remote).lstrip("/")}
    if "%(" in local_path:
        lp = local_path % values
        if multi and "%(path)s" not in local_path and \
                "%(basename)s" not in local_path:
            lp = os.path.join(lp, *rel.split("/"))
        return _local_path(lp)
    lp = _local_path(local_path)
    if multi or os.path.isdir(lp) or local_path.endswith("/"):
        return os.path.join(lp, *rel.split("/"))
    return lp


def get(remote_path, local_path=None):
    """Download files from env.host_string over SFTP: a file, a directory
    (recursively) or a glob. local_path may hold %(host)s, %(path)s,
    %(basename)s, %(dirname)s; an existing directory receives the files.
    Returns the local paths."""
    hs = _current_host()
    if output.running:
        emit("[%s] download: %s <- %s\n" % (_label(hs),
                                            local_path or "", remote_path))
    return _one(_get_many([hs], remote_path, local_path)[hs])


# ------------------------------------------------------------------ Group

class Group(object):
    """Hosts to run one operation on all at once, on the event loop.

    Each method returns {host: Result (or TransferList) or exception}; one
    host failing never stops the others. A CommandError for a failing
    command is returned, not raised (warn_only returns the failed Result).
    """

    def __init__(self, *hosts):
        if len(hosts) == 1 and not isinstance(hosts[0], str):
            hosts = tuple(hosts[0])
        hl = []
        for h in hosts:
            hl.extend(_hosts_arg(h))
        self.hosts = hl

    def __iter__(self):
        return iter(self.hosts)

    def __len__(self):
        return len(self.hosts)

    def __repr__(self):
        return "Group(%r)" % (self.hosts,)

    def run(self, command, **kw):
        return _exec_many(self.hosts, command, "run", **kw) \
            if self.hosts else {}

    def sudo(self, command, *, user=None, group=None, **kw):
        return _exec_many(self.hosts, command, "sudo", sudo=True, user=user,
                          group=group, **kw) if self.hosts else {}

    def put(self, local_path, remote_path=None, **kw):
        return _put_many(self.hosts, local_path, remote_path, **kw) \
            if self.hosts else {}

    def get(self, remote_path, local_path=None):
        return _get_many(self.hosts, remote_path, local_path) \
            if self.hosts else {}


def disconnect_all():
    """Close every cached SSH session (the runner calls this at exit)."""
    _fabc.ssh_disconnect_all()


def session_count():
    """Number of SSH sessions the engine holds open."""
    return _fabc.ssh_session_count()
