"""run / sudo / put / get / Group / output against real sshd hosts."""
import hashlib
import os
import re

from sshutil import mark, marks

PKG = "ssh_ops"


def test_run_basic(fabc_ssh, ssh_lab):
    h = ssh_lab.host(0)
    r = fabc_ssh("echo:hello", "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    m = mark(r.stdout, "echo")
    assert m["stdout"] == "hello" and m["rc"] == 0
    assert "[root@%s] run: echo hello" % h in r.stdout
    assert "[root@%s] out: hello" % h in r.stdout


def test_remote_command_cli(fabc_ssh, ssh_lab):
    r = fabc_ssh("-H", ssh_lab.hosts(3), "--", "echo", "from-cli")
    assert r.returncode == 0, r.stdout + r.stderr
    for a in ssh_lab.addrs[:3]:
        assert "[root@%s] out: from-cli" % a in r.stdout


def test_composition_quoting(fabc_ssh, ssh_lab):
    r = fabc_ssh("compose", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "compose") == '/tmp|1|x "y" $z `w`'


def test_exit_status_and_streams(fabc_ssh, ssh_lab):
    h = ssh_lab.host(0)
    r = fabc_ssh("status:7", "-H", h, pkg=PKG)
    assert r.returncode == 0
    m = mark(r.stdout, "status")
    assert m == {"stdout": "o", "stderr": "e", "rc": 7, "signal": None,
                 "host": h, "failed": True}
    assert "[root@%s] err: e" % h in r.stdout
    assert "Warning" in r.stderr and "return code 7" in r.stderr


def test_failing_command_aborts(fabc_ssh, ssh_lab):
    r = fabc_ssh("fail:5", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 1
    assert "CommandError" in r.stdout + r.stderr
    assert "return code 5" in r.stdout + r.stderr


def test_warn_only_flag(fabc_ssh, ssh_lab):
    r = fabc_ssh("fail:5", "-w", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr


def test_exit_signal(fabc_ssh, ssh_lab):
    r = fabc_ssh("killed:KILL", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    m = mark(r.stdout, "signal")
    assert m["signal"] == "KILL" and m["rc"] == 137
    r = fabc_ssh("killed:TERM,0", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 1
    assert "killed by signal TERM" in r.stdout + r.stderr


def test_pty(fabc_ssh, ssh_lab):
    r = fabc_ssh("tty", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    pty = mark(r.stdout, "pty")
    assert pty["stdout"].startswith("/dev/pts/")
    assert "err" in pty["stdout"]  # a pty merges stderr into stdout
    assert mark(r.stdout, "nopty")["rc"] != 0


def test_partial_last_line_flushed(fabc_ssh, ssh_lab):
    h = ssh_lab.host(0)
    r = fabc_ssh("noeol", "-H", h, pkg=PKG)
    assert r.returncode == 0
    assert "[root@%s] out: first\n" % h in r.stdout
    assert "[root@%s] out: no newline\n" % h in r.stdout


def test_hide_and_quiet(fabc_ssh, ssh_lab):
    r = fabc_ssh("hidden", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0
    assert mark(r.stdout, "hidden") == ["secret-out", "quiet-out", 3]
    assert "Warning" not in r.stderr
    assert "out: secret-out" not in r.stdout
    assert "out: quiet-out" not in r.stdout
    assert "run: echo secret-out" not in r.stdout


def test_parallel_output_never_mixed(fabc_ssh, ssh_lab):
    n = 20
    r = fabc_ssh("lines:300", "-P", "-H", ssh_lab.hosts(n), pkg=PKG,
                 timeout=120)
    assert r.returncode == 0, r.stderr
    pat = re.compile(r"^\[root@(127\.0\.0\.\d+)\] out: line-(\d+)-(\S+)$")
    seen = {}
    for line in r.stdout.splitlines():
        if " out: " not in line:
            continue
        m = pat.match(line)
        assert m, "mixed or malformed line: %r" % line
        assert m.group(1) == m.group(3), line
        seen.setdefault(m.group(1), []).append(int(m.group(2)))
    assert len(seen) == n
    for h, nums in seen.items():
        assert nums == list(range(1, 301)), h


def test_sudo_as_root_and_user(fabc_ssh, ssh_lab):
    r = fabc_ssh("sudo_id", "sudo_id:nobody", "-H", ssh_lab.host(0),
                 pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    got = [m["stdout"] for m in marks(r.stdout, "sudo")]
    assert got == ["root", "nobody"]
    assert "sudo -S -p" not in r.stdout  # shows the command, not the wrap


def test_sudo_password(fabc_ssh, ssh_lab):
    h = "fabclab@" + ssh_lab.host(1)
    r = fabc_ssh("sudo_pw:LabPass1", "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "sudo")["stdout"] == "root\nok"
    assert "LabPass1" not in r.stdout + r.stderr
    assert "sudo password:" not in r.stdout


def test_sudo_wrong_password(fabc_ssh, ssh_lab):
    h = "fabclab@" + ssh_lab.host(1)
    r = fabc_ssh("sudo_pw:WrongPass9", "-H", h, pkg=PKG, timeout=60)
    assert r.returncode == 1
    assert "incorrect sudo password" in mark(r.stdout, "autherr")
    assert "AuthError" in r.stdout + r.stderr
    assert "WrongPass9" not in r.stdout + r.stderr


def test_sudo_no_password(fabc_ssh, ssh_lab):
    h = "fabclab@" + ssh_lab.host(1)
    r = fabc_ssh("sudo_pw", "-H", h, pkg=PKG, timeout=60)
    assert r.returncode == 1
    assert "password is required" in mark(r.stdout, "autherr")


def _tree(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A\n")
    (src / "sub" / "b.txt").write_text("B\n")
    (src / "c.log").write_text("C\n")
    return src


def test_put_get_file_dir_glob(fabc_ssh, ssh_lab, tmp_path):
    h = ssh_lab.host(2)
    src = _tree(tmp_path)
    rdir = "/tmp/fabc-it-%d" % os.getpid()
    r = fabc_ssh("-H", h, "--", "rm -rf %s && mkdir -p %s" % (rdir, rdir))
    assert r.returncode == 0
    # a directory, recursively
    r = fabc_ssh("push:%s,%s" % (src, rdir), "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "put") == sorted([
        rdir + "/src/a.txt", rdir + "/src/c.log", rdir + "/src/sub/b.txt"])
    # a file with a mode
    r = fabc_ssh("push:%s,%s/m.txt,640" % (src / "a.txt", rdir), "-H", h,
                 pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert oct(os.stat(rdir + "/m.txt").st_mode & 0o777) == "0o640"
    # a glob
    r = fabc_ssh("push:%s/*.txt,%s" % (src, rdir), "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "put") == [rdir + "/a.txt"]
    # a file-like object
    r = fabc_ssh("push_obj:%s/obj.txt" % rdir, "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert open(rdir + "/obj.txt").read() == "from a file object\n"
    # get a directory, and a glob with %(host)s
    dl = tmp_path / "dl"
    r = fabc_ssh("pull:%s/src,%s/" % (rdir, dl), "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (dl / "src" / "sub" / "b.txt").read_text() == "B\n"
    r = fabc_ssh("pull:%s/src/*.txt,%s/%%(host)s/%%(basename)s" % (rdir, dl),
                 "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (dl / h / "a.txt").read_text() == "A\n"
    # missing remote file
    r = fabc_ssh("pull:%s/nope,%s/x" % (rdir, dl), "-H", h, pkg=PKG)
    assert r.returncode == 1
    assert "no such file" in mark(r.stdout, "geterr")
    assert rdir + "/nope" in mark(r.stdout, "geterr")


def test_put_use_sudo(fabc_ssh, ssh_lab, tmp_path):
    h = "fabclab@" + ssh_lab.host(3)
    f = tmp_path / "root-owned.conf"
    f.write_text("x=1\n")
    target = "/root/fabc-it-sudo-%d.conf" % os.getpid()
    r = fabc_ssh("push:%s,%s,600,1" % (f, target), "-H", h, pkg=PKG,
                 env={}, timeout=60)
    # fabclab needs its sudo password
    assert r.returncode == 1
    r = fabc_ssh("push:%s,%s,600,1" % (f, target), "-H", h,
                 "--set", "sudo_password=LabPass1", pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    st = os.stat(target)
    assert st.st_uid == 0 and oct(st.st_mode & 0o777) == "0o600"
    os.unlink(target)


def test_put_get_permission_denied(fabc_ssh, ssh_lab, tmp_path):
    h = "fabclab@" + ssh_lab.host(3)
    f = tmp_path / "f.txt"
    f.write_text("x")
    r = fabc_ssh("push:%s,/root/denied.txt" % f, "-H", h, pkg=PKG)
    assert r.returncode == 1
    msg = mark(r.stdout, "puterr")
    assert "permission denied" in msg and "/root/denied.txt" in msg


def test_large_transfer_roundtrip(fabc_ssh, ssh_lab, tmp_path):
    h = ssh_lab.host(4)
    big = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 123)
    big.write_bytes(data)
    remote = "/tmp/fabc-it-big-%d.bin" % os.getpid()
    r = fabc_ssh("push:%s,%s" % (big, remote), "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    back = tmp_path / "back.bin"
    r = fabc_ssh("pull:%s,%s" % (remote, back), "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert hashlib.sha256(back.read_bytes()).digest() == \
        hashlib.sha256(data).digest()
    os.unlink(remote)


def test_group_run_all_hosts(fabc_ssh, ssh_lab):
    hosts = ssh_lab.addrs[:30]
    r = fabc_ssh("group_run:%s" % ";".join(hosts), "-H", ssh_lab.host(0),
                 pkg=PKG, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    g = mark(r.stdout, "group")["results"]
    assert set(g) == set(hosts)
    assert all(v["stdout"] == "42" for v in g.values())


def test_group_one_host_failing(fabc_ssh, ssh_lab):
    hosts = ssh_lab.addrs[:3] + ["127.0.0.99:1"]
    r = fabc_ssh("group_run:%s" % ";".join(hosts), "-H", ssh_lab.host(0),
                 pkg=PKG, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    g = mark(r.stdout, "group")["results"]
    assert g["127.0.0.99:1"]["error"] == "ConnectionError"
    assert all(g[h]["stdout"] == "42" for h in hosts[:3])


def test_group_sudo_put_get(fabc_ssh, ssh_lab, tmp_path):
    hosts = ssh_lab.addrs[5:9]
    r = fabc_ssh("group_run:%s,whoami,1" % ";".join(hosts), "-H",
                 ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(v["stdout"] == "root" for v in
               mark(r.stdout, "group")["results"].values())
    f = tmp_path / "g.txt"
    f.write_text("group\n")
    remote = "/tmp/fabc-it-g-%d.txt" % os.getpid()
    r = fabc_ssh("group_put:%s,%s,%s" % (";".join(hosts), f, remote), "-H",
                 ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(v == [remote] for v in mark(r.stdout, "gput").values())
    dl = tmp_path / "dl"
    r = fabc_ssh("group_get:%s,%s,%s/%%(host)s.txt" % (";".join(hosts),
                                                       remote, dl),
                 "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    for h in hosts:
        assert (dl / (h + ".txt")).read_text() == "group\n"
    os.unlink(remote)


def test_sessions_reused(fabc_ssh, ssh_lab):
    r = fabc_ssh("reuse:5", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "sessions") == 1


def test_parallel_pool(fabc_ssh, ssh_lab):
    r = fabc_ssh("echo:pool", "-P", "-z", "4", "-H", ssh_lab.hosts(12),
                 pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(marks(r.stdout, "echo")) == 12


def test_sudo_password_with_pty(fabc_ssh, ssh_lab):
    h = "fabclab@" + ssh_lab.host(1)
    r = fabc_ssh("sudo_pty:LabPass1", "-H", h, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "sudo_pty")["stdout"].strip() == "root"
    assert "LabPass1" not in r.stdout + r.stderr
    r = fabc_ssh("sudo_pty:Wrong999", "-H", h, pkg=PKG, timeout=60)
    assert r.returncode == 1
    assert "incorrect sudo password" in r.stdout + r.stderr
    assert r.elapsed < 15
    assert "Wrong999" not in r.stdout + r.stderr
