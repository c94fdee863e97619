"""pytest fixtures: real OpenSSH sshd test hosts on 127.0.0.x.

`ssh_lab` (session scope) starts tests/lab/sshd-start.sh in a private
directory under tests/lab/run/ (63 hosts on 127.0.0.100.., one port, 4
`sshd -D` instances, [::1] too) and stops them by PID at the end. Tests
run bin/fabc as a subprocess against those hosts; nothing is mocked.
"""
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(ROOT, "tests", "lab")
FABC = os.environ.get("FABC") or os.path.join(ROOT, "bin", "fabc")


def _free_port(addr="127.0.0.100"):
    for _ in range(50):
        s = socket.socket()
        try:
            s.bind((addr, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if 20000 <= port <= 60000:
            return port
    return 22999


class SshLab(object):
    """The running test hosts."""

    def __init__(self, d, port, n):
        self.dir = d
        self.port = port
        self.n = n
        self.addrs = [l.strip() for l in open(os.path.join(d, "hosts.txt"))]
        self.ssh_config = os.path.join(d, "ssh_config")
        self.known_hosts = os.path.join(d, "known_hosts")
        self.known_hosts_hashed = os.path.join(d, "known_hosts.hashed")
        self.key = os.path.join(d, "id_ed25519")
        self.home = os.path.join(d, "home")

    def host(self, i=0):
        return self.addrs[i]

    def hosts(self, n, start=0):
        return ",".join(self.addrs[start:start + n])

    def args(self, known_hosts=None, ssh_config=None):
        return ["--ssh-config", ssh_config or self.ssh_config,
                "--known-hosts", known_hosts or self.known_hosts]

    def sshd_pids(self):
        pids = []
        for f in os.listdir(self.dir):
            if f.startswith("sshd.") and f.endswith(".pid"):
                try:
                    pids.append(int(open(os.path.join(self.dir, f)).read()))
                except ValueError:
                    pass
        return pids

    def session_pids(self):
        """sshd processes serving connections (children of our sshd)."""
        parents = set(self.sshd_pids())
        out = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % p) as f:
                    st = f.read()
            except OSError:
                continue
            ppid = int(st.rsplit(")", 1)[1].split()[1])
            if ppid in parents:
                out.append(int(p))
        return out

    def write_config(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path


@pytest.fixture(scope="session")
def ssh_lab():
    n = 63
    port = _free_port()
    d = os.path.join(LAB, "run", "ssh-pytest-%d" % os.getpid())
    env = dict(os.environ, SSH_LAB_DIR=d, SSH_LAB_HOSTS=str(n),
               SSH_LAB_PORT=str(port), SSH_LAB_FIRST="100", SSH_LAB_V6="1")
    r = subprocess.run(["sh", os.path.join(LAB, "sshd-start.sh")], env=env,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        subprocess.run(["sh", os.path.join(LAB, "sshd-stop.sh")], env=env,
                       capture_output=True, timeout=60)
        pytest.fail("sshd lab did not start:\n%s%s" % (r.stdout, r.stderr))
    lab = SshLab(d, port, n)
    try:
        yield lab
    finally:
        subprocess.run(["sh", os.path.join(LAB, "sshd-stop.sh")], env=env,
                       capture_output=True, timeout=60)
        if not os.environ.get("FABC_KEEP_SSH_LAB"):
            import shutil
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fabc_ssh(ssh_lab):
    """fabc_ssh(*args, pkg=None, timeout=60, env=None, known_hosts=None,
    ssh_config=None) runs bin/fabc with the lab's ssh_config and
    known_hosts (and -f tests/integration/pkgs/<pkg>)."""
    def run(*args, pkg=None, timeout=60, env=None, known_hosts=None,
            ssh_config=None, input=None):
        cmd = [FABC]
        if pkg:
            cmd += ["-f", os.path.join(HERE, "pkgs", pkg)]
        cmd += ssh_lab.args(known_hosts, ssh_config) + [str(a) for a in args]
        e = dict(os.environ)
        e.pop("SSH_AUTH_SOCK", None)
        if env:
            e.update(env)
        t0 = time.monotonic()
        r = subprocess.run(cmd, cwd=ROOT, env=e, capture_output=True,
                           text=True, timeout=timeout, input=input)
        r.elapsed = time.monotonic() - t0
        return r
    return run


@pytest.fixture
def silent_listener():
    """A TCP listener on 127.0.0.99 that accepts and never sends a byte
    (an SSH server that never sends its banner). Yields its port."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.99", 0))
    srv.listen(64)
    conns = []
    stop = threading.Event()

    def loop():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                conns.append(c)
            except OSError:
                continue
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        for c in conns:
            c.close()
        srv.close()


@pytest.fixture
def small_mounts(ssh_lab):
    """A 256 KiB tmpfs and a read-only tmpfs under the lab dir (root
    only). Yields (full_dir, ro_dir)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    full = os.path.join(ssh_lab.dir, "mnt-small")
    ro = os.path.join(ssh_lab.dir, "mnt-ro")
    os.makedirs(full, exist_ok=True)
    os.makedirs(ro, exist_ok=True)
    r1 = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                         full], capture_output=True)
    r2 = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k",
                         "tmpfs", ro], capture_output=True)
    if r1.returncode or r2.returncode:
        for m in (full, ro):
            subprocess.run(["umount", m], capture_output=True)
        pytest.skip("cannot mount tmpfs here: %s" % (r1.stderr or r2.stderr))
    try:
        yield full, ro
    finally:
        for m in (full, ro):
            subprocess.run(["umount", "-l", m], capture_output=True)


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def popen_fabc(ssh_lab, *args, pkg=None):
    cmd = [FABC]
    if pkg:
        cmd += ["-f", os.path.join(HERE, "pkgs", pkg)]
    cmd += ssh_lab.args() + [str(a) for a in args]
    e = dict(os.environ)
    e.pop("SSH_AUTH_SOCK", None)
    return subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def sigint(proc):
    proc.send_signal(signal.SIGINT)
