"""Faults: each ends with a clear error and the right exit code, other
hosts unaffected, no hang past the timeouts."""
import os
import re
import signal
import time

from fixtures_ssh import popen_fabc, wait_for
from sshutil import mark

PKG = "ssh_ops"


def test_connection_refused(fabc_ssh, ssh_lab):
    r = fabc_ssh("error_kinds", "-H", "root@127.0.0.97:1", pkg=PKG)
    assert r.returncode == 1
    k = mark(r.stdout, "kind")
    assert k["type"] == "ConnectionError"
    assert "Connection refused" in k["msg"]
    assert r.elapsed < 10


def test_no_banner_times_out(fabc_ssh, ssh_lab, silent_listener):
    h = "root@127.0.0.99:%d" % silent_listener
    r = fabc_ssh("error_kinds", "-t", "2", "-P", "-H",
                 "%s,%s" % (h, ssh_lab.host(0)), pkg=PKG, timeout=30)
    assert r.returncode == 1
    k = [m for m in _all(r.stdout, "kind") if m != "ok"][0]
    assert k["type"] == "ConnectionError"
    assert "timed out" in k["msg"] and "banner" in k["msg"]
    assert r.elapsed < 10
    assert "ok" in _all(r.stdout, "kind")  # the other host ran


def _all(text, tag):
    from sshutil import marks
    return marks(text, tag)


def test_skip_bad_hosts(fabc_ssh, ssh_lab):
    r = fabc_ssh("echo:skip", "--skip-bad-hosts", "-H",
                 "root@127.0.0.97:1,%s" % ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "127.0.0.97" in r.stdout + r.stderr
    assert mark(r.stdout, "echo")["stdout"] == "skip"


def test_sshd_session_killed_mid_command(ssh_lab):
    p = popen_fabc(ssh_lab, "sleeper:8", "-P", "-H",
                   "%s,%s" % (ssh_lab.host(30), ssh_lab.host(31)), pkg=PKG)
    lines = []
    ppid = None
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"\[root@%s\] out: PPID=(\d+)" %
                      re.escape(ssh_lab.host(30)), line)
        if m:
            ppid = int(m.group(1))
            break
    assert ppid, "".join(lines)
    # the parent of the remote shell is the sshd session process
    comm = open("/proc/%d/comm" % ppid).read().strip()
    assert comm == "sshd"
    os.kill(ppid, signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    out = "".join(lines) + out
    assert p.returncode == 1
    assert "connection lost" in out + err
    assert "ConnectionError" in out + err
    # the other host's command was not affected
    assert "[root@%s] out: done" % ssh_lab.host(31) in out
    assert re.search(r"ok\s+%s\s+sleeper" % re.escape(ssh_lab.host(31)),
                     out + err), out + err
    assert re.search(r"FAILED\s+%s\s+sleeper" %
                     re.escape(ssh_lab.host(30)), out + err), out + err
    assert time.monotonic() - t0 < 30


def test_command_killed_by_signal(fabc_ssh, ssh_lab):
    r = fabc_ssh("killed:KILL,0", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 1
    assert "killed by signal KILL" in r.stdout + r.stderr


def test_command_timeout(fabc_ssh, ssh_lab):
    r = fabc_ssh("timed:1", "-H", ssh_lab.host(32), pkg=PKG, timeout=30)
    assert r.returncode == 1
    m = mark(r.stdout, "timeout")
    assert "timed out after 1 s" in m["msg"]
    assert m["elapsed"] < 5
    # and the host is usable afterwards (a fresh session)
    r = fabc_ssh("timed_then_run:1", "-H", ssh_lab.host(32), pkg=PKG,
                 timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "after")["stdout"] == "alive"


def test_command_timeout_flag(fabc_ssh, ssh_lab):
    r = fabc_ssh("-T", "1", "-H", ssh_lab.host(33), "--", "sleep 30",
                 timeout=30)
    assert r.returncode == 1
    assert "TimeoutError" in r.stdout + r.stderr
    assert r.elapsed < 10


def test_sftp_full_filesystem(fabc_ssh, ssh_lab, small_mounts, tmp_path):
    full, _ = small_mounts
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1024 * 1024))
    r = fabc_ssh("push:%s,%s/big.bin" % (big, full), "-H", ssh_lab.host(34),
                 pkg=PKG, timeout=60)
    assert r.returncode == 1
    msg = mark(r.stdout, "puterr")
    assert full + "/big.bin" in msg
    assert "no space left on device" in msg


def test_sftp_read_only_filesystem(fabc_ssh, ssh_lab, small_mounts,
                                   tmp_path):
    _, ro = small_mounts
    f = tmp_path / "f.txt"
    f.write_text("x")
    r = fabc_ssh("push:%s,%s/f.txt" % (f, ro), "-H", ssh_lab.host(34),
                 pkg=PKG, timeout=60)
    assert r.returncode == 1
    msg = mark(r.stdout, "puterr")
    assert ro + "/f.txt" in msg and "read-only file system" in msg


def test_ctrl_c_during_50_host_parallel_run(ssh_lab):
    n = 50
    base = set(ssh_lab.session_pids())
    p = popen_fabc(ssh_lab, "sleeper:60", "-P", "-H", ssh_lab.hosts(n),
                   pkg=PKG)
    started = set()
    t0 = time.monotonic()
    buf = []
    while len(started) < n and time.monotonic() - t0 < 60:
        line = p.stdout.readline()
        if not line:
            break
        buf.append(line)
        m = re.match(r"\[root@([\d.]+)\] out: PPID=", line)
        if m:
            started.add(m.group(1))
    assert len(started) == n, "".join(buf[-20:])
    assert len(set(ssh_lab.session_pids()) - base) >= n
    t1 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, out[-2000:] + err[-2000:]
    assert time.monotonic() - t1 < 10
    assert "Stopped" in out + err
    # every session closed: sshd has no session processes for them left
    assert wait_for(lambda: not (set(ssh_lab.session_pids()) - base),
                    timeout=10), set(ssh_lab.session_pids()) - base


def test_sftp_full_then_session_still_usable(fabc_ssh, ssh_lab,
                                             small_mounts, tmp_path):
    full, _ = small_mounts
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1024 * 1024))
    small = tmp_path / "small.txt"
    small.write_text("fits\n")
    r = fabc_ssh("push_then_small:%s,%s/big2.bin,%s,/tmp/fabc-small-%d"
                 % (big, full, small, os.getpid()),
                 "-H", ssh_lab.host(35), pkg=PKG, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    m = mark(r.stdout, "after_full")
    assert "no space left" in m["error"]
    assert m["small"] == ["/tmp/fabc-small-%d" % os.getpid()]


def test_ctrl_c_during_group_run(ssh_lab):
    """A Group runs in one Python thread: Ctrl-C reaches it while it waits
    (GIL released) and every session is closed."""
    hosts = ssh_lab.addrs[:40]
    base = set(ssh_lab.session_pids())
    p = popen_fabc(ssh_lab, "group_run:%s,echo started; sleep 60"
                   % ";".join(hosts), "-H", ssh_lab.host(0), pkg=PKG)
    seen = set()
    t0 = time.monotonic()
    while len(seen) < len(hosts) and time.monotonic() - t0 < 60:
        line = p.stdout.readline()
        if not line:
            break
        m = re.match(r"\[root@([\d.]+)\] out: started", line)
        if m:
            seen.add(m.group(1))
    assert len(seen) == len(hosts)
    t1 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, out[-1000:] + err[-1000:]
    assert time.monotonic() - t1 < 10
    assert wait_for(lambda: not (set(ssh_lab.session_pids()) - base),
                    timeout=10)


def test_idle_session_lost_reconnects(fabc_ssh, ssh_lab):
    r = fabc_ssh("reconnect", "-H", ssh_lab.host(36), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "reconnect")["stdout"] == "again"
    assert mark(r.stdout, "reconnect_put") == ["/tmp/fabc-reconnect"]
