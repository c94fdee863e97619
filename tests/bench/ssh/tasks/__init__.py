"""Benchmark tasks: one command on N hosts with a Group (one event loop,
no Python thread per host), and SFTP put/get of one big file."""
import time

from fabc import task, Group, env, hide, put, get


def _hosts(n):
    with open(env.bench_hosts) as f:
        return [l.strip() for l in f if l.strip()][:int(n)]


@task
def fan(n="100", cmd="true", wrap="0"):
    """cmd on the first n hosts at once. wrap=1 adds Fabric 1's
    /bin/bash -l -c wrapping (a second, login shell on every host); the
    peers run the command as sshd gives it to the user's shell."""
    hosts = _hosts(n)
    with hide("everything"):
        t = time.time()
        r = Group(hosts).run(cmd, shell=wrap == "1")
        dt = time.time() - t
    bad = [h for h, v in r.items() if isinstance(v, BaseException)]
    print("fan %d hosts %.3f s, %d failed%s" % (
        len(hosts), dt, len(bad), (": %s" % r[bad[0]]) if bad else ""))
    if bad:
        raise SystemExit(1)


@task
def sftp(local, remote, back):
    with hide("everything"):
        t = time.time()
        put(local, remote)
        tp = time.time() - t
        t = time.time()
        get(remote, back)
        tg = time.time() - t
    print("sftp put %.3f s get %.3f s" % (tp, tg))
