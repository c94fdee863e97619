"""Tasks the SSH integration tests run against the sshd lab. Each prints
'@@tag <json>' lines the tests parse."""
import json
import os
import time

import fabc
from fabc import (task, run, sudo, put, get, Group, env, cd, prefix,
                  shell_env, hide, settings, quiet)


def out(tag, obj):
    # one atomic write: -P runs these from several threads at once
    from fabc.state import emit
    emit("@@%s %s\n" % (tag, json.dumps(obj)))


def res(r):
    if isinstance(r, BaseException):
        return {"error": type(r).__name__, "msg": str(r)}
    if isinstance(r, list):
        return sorted(r)
    return {"stdout": r.stdout, "stderr": r.stderr, "rc": r.return_code,
            "signal": r.signal, "host": r.host}


@task
def echo(text="hi"):
    out("echo", res(run("echo %s" % text)))


@task
def compose():
    with cd("/tmp"), prefix("export A=1"), shell_env(B='x "y" $z `w`'):
        r = run('echo "$PWD|$A|$B"')
    out("compose", r.stdout)


@task
def status(code="3"):
    r = run("echo o; echo e >&2; exit %s" % code, warn_only=True)
    out("status", dict(res(r), failed=r.failed))


@task
def fail(code="4"):
    run("echo before; exit %s" % code)


@task
def killed(sig="KILL", warn="1"):
    out("signal", res(run("kill -%s $$" % sig, warn_only=warn == "1")))


@task
def tty():
    out("pty", res(run("tty; echo err >&2", pty=True)))
    out("nopty", res(run("tty", warn_only=True)))


@task
def noeol():
    run("printf 'first\\nno newline'")


@task
def lines(n="200"):
    run("for i in $(seq 1 %s); do echo line-$i-$(hostname -I | cut -c1-0)"
        "%s; done" % (n, env.host_string))


@task
def hidden():
    with hide("stdout", "running"):
        r = run("echo secret-out")
    r2 = run("echo quiet-out", quiet=True)
    r3 = run("exit 3", quiet=True)      # quiet: fails without a warning
    out("hidden", [r.stdout, r2.stdout, r3.return_code])


@task
def sudo_id(user=""):
    out("sudo", res(sudo("id -un", user=user or None)))


@task
def sudo_pw(pw=""):
    if pw:
        env.sudo_password = pw
    try:
        out("sudo", res(sudo("id -un; echo ok")))
    except fabc.AuthError as e:
        out("autherr", str(e))
        raise


@task
def sleeper(secs="30"):
    run("echo PPID=$PPID; sleep %s; echo done" % secs)


@task
def timed(secs="1"):
    t = time.time()
    try:
        run("sleep 30", timeout=float(secs))
    except fabc.TimeoutError as e:
        out("timeout", {"msg": str(e), "elapsed": time.time() - t})
        raise


@task
def timed_then_run(secs="1"):
    try:
        run("sleep 30", timeout=float(secs))
    except fabc.TimeoutError:
        pass
    out("after", res(run("echo alive")))


@task
def push(local, remote="", mode="", sudo_="0"):
    kw = {}
    if mode:
        kw["mode"] = int(mode, 8)
    try:
        r = put(local, remote or None, use_sudo=sudo_ == "1", **kw)
        out("put", res(r))
    except fabc.TransferError as e:
        out("puterr", str(e))
        raise


@task
def push_obj(remote, text="from a file object\n"):
    import io
    out("put", res(put(io.StringIO(text), remote)))


@task
def pull(remote, local=""):
    try:
        out("get", res(get(remote, local or None)))
    except fabc.TransferError as e:
        out("geterr", str(e))
        raise


@task
def group_run(hosts, cmd="echo $((6*7))", sudo_="0"):
    g = Group(hosts.split(";"))
    t = time.time()
    r = g.sudo(cmd) if sudo_ == "1" else g.run(cmd)
    out("group", {"elapsed": time.time() - t,
                  "results": {h: res(v) for h, v in r.items()}})


@task
def group_put(hosts, local, remote):
    r = Group(hosts.split(";")).put(local, remote)
    out("gput", {h: res(v) for h, v in r.items()})


@task
def group_get(hosts, remote, local):
    r = Group(hosts.split(";")).get(remote, local)
    out("gget", {h: res(v) for h, v in r.items()})


@task
def reuse(n="5"):
    import _fabc
    for i in range(int(n)):
        run("true", quiet=True)
    out("sessions", _fabc.ssh_session_count())


@task
def via():
    """Which process holds the client end of this SSH connection?"""
    r = run("p=$(echo $SSH_CONNECTION | cut -d' ' -f2); "
            "ss -Htnp state established \"sport = :$p\"", quiet=True)
    out("via", r.stdout)


@task
def error_kinds():
    """Run once and report the exception type (used for connect faults)."""
    try:
        run("true")
        out("kind", "ok")
    except fabc.Error as e:
        out("kind", {"type": type(e).__name__, "msg": str(e),
                     "host": getattr(e, "host", None)})
        raise


@task
def push_then_small(big, remote_big, small, remote_small):
    """A failed upload leaves the session usable for the next one."""
    try:
        put(big, remote_big)
        err = None
    except fabc.TransferError as e:
        err = str(e)
    out("after_full", {"error": err, "small": put(small, remote_small)})


@task
def keepalive_sleep(secs="3"):
    out("keepalive", res(run("sleep %s; echo woke" % secs)))


@task
def sudo_pty(pw=""):
    if pw:
        env.sudo_password = pw
    out("sudo_pty", res(sudo("id -un", pty=True, timeout=20)))


@task
def server_addr():
    """The address the sshd that runs this command accepted us on."""
    r = run("echo $SSH_CONNECTION", quiet=True)
    out("server_addr", {"host": env.host_string, "addr": r.split()[2]})


@task
def group_addrs(hosts):
    g = Group(hosts.split(";"))
    r = g.run("echo $SSH_CONNECTION", quiet=True)
    out("gaddrs", {h: (v.split()[2] if not isinstance(v, BaseException)
                       else str(v)) for h, v in r.items()})


@task
def reconnect():
    """The cached session dies while idle (its sshd process is killed);
    the next run() connects again by itself."""
    import signal
    pid = int(run("echo $PPID", quiet=True))
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    out("reconnect", res(run("echo again", quiet=True)))
    pid = int(run("echo $PPID", quiet=True))
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    out("reconnect_put", put("/etc/hostname", "/tmp/fabc-reconnect"))
