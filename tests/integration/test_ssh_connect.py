"""Connection settings: ssh_config, host strings, host keys, auth, jump
hosts, retries — against real sshd hosts."""
import os
import shutil

from sshutil import mark, marks

PKG = "ssh_ops"


def test_ipv6_host_string(fabc_ssh, ssh_lab):
    r = fabc_ssh("echo:v6", "-H", "root@[::1]:%d" % ssh_lab.port, pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "echo")["stdout"] == "v6"


def test_explicit_port_user_and_identity(fabc_ssh, ssh_lab, tmp_path):
    cfg = ssh_lab.write_config("empty_config", "")
    h = "root@%s:%d" % (ssh_lab.host(0), ssh_lab.port)
    r = fabc_ssh("echo:x", "-H", h, "-i", ssh_lab.key, pkg=PKG,
                 ssh_config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ssh_config_alias_tokens(fabc_ssh, ssh_lab):
    cfg = ssh_lab.write_config("alias_config", """
Host web-*
    HostName %s
    Port %d
    User root
    IdentityFile %s/id_%%r_missing
    IdentityFile %s/id_ecdsa
    IdentitiesOnly yes
Host web-9 !web-1
    User nobody
""" % (ssh_lab.host(0), ssh_lab.port, ssh_lab.dir, ssh_lab.dir))
    r = fabc_ssh("echo:alias", "-H", "web-1", pkg=PKG, ssh_config=cfg,
                 known_hosts=ssh_lab.known_hosts)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[root@web-1] out: alias" in r.stdout


def test_rsa_key_explained(fabc_ssh, ssh_lab):
    """libssh2 1.10 has no rsa-sha2 signatures: OpenSSH 9 refuses its
    ssh-rsa (SHA-1) ones, and the error says why and what to do."""
    cfg = ssh_lab.write_config("empty_config", "")
    h = "root@%s:%d" % (ssh_lab.host(0), ssh_lab.port)
    r = fabc_ssh("echo:rsa", "-H", h, "-i",
                 os.path.join(ssh_lab.dir, "id_rsa"), pkg=PKG,
                 ssh_config=cfg)
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert "AuthError" in out and "ssh-rsa/SHA-1" in out
    assert "ed25519" in out


def test_ecdsa_key(fabc_ssh, ssh_lab):
    cfg = ssh_lab.write_config("empty_config", "")
    h = "root@%s:%d" % (ssh_lab.host(0), ssh_lab.port)
    r = fabc_ssh("echo:ecdsa", "-H", h, "-i",
                 os.path.join(ssh_lab.dir, "id_ecdsa"), pkg=PKG,
                 ssh_config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr


def test_encrypted_key_passphrase(fabc_ssh, ssh_lab):
    cfg = ssh_lab.write_config("empty_config", "")
    h = "root@%s:%d" % (ssh_lab.host(0), ssh_lab.port)
    enc = os.path.join(ssh_lab.dir, "id_enc")
    r = fabc_ssh("echo:enc", "-H", h, "-i", enc, "--set",
                 "key_passphrase=keypass", pkg=PKG, ssh_config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    r = fabc_ssh("echo:enc", "-H", h, "-i", enc, "--set",
                 "key_passphrase=wrong", pkg=PKG, ssh_config=cfg)
    assert r.returncode == 1
    assert "AuthError" in r.stdout + r.stderr
    assert "id_enc" in r.stdout + r.stderr
    assert "wrong" not in (r.stdout + r.stderr).replace("wrong passphrase",
                                                        "")


def test_password_auth(fabc_ssh, ssh_lab):
    cfg = ssh_lab.write_config("nokey_config", """
Host *
    Port %d
    IdentitiesOnly yes
    IdentityFile /nonexistent/key
""" % ssh_lab.port)
    h = "fabclab@" + ssh_lab.host(0)
    r = fabc_ssh("echo:pw", "-H", h, "--set", "password=LabPass1", pkg=PKG,
                 ssh_config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    r = fabc_ssh("echo:pw", "-H", h, "--set", "password=Nope1234", pkg=PKG,
                 ssh_config=cfg)
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert "AuthError" in out and "password rejected" in out
    assert "Nope1234" not in out


def test_auth_failure(fabc_ssh, ssh_lab):
    r = fabc_ssh("error_kinds", "-H", "nosuchuser@" + ssh_lab.host(0),
                 pkg=PKG)
    assert r.returncode == 1
    k = mark(r.stdout, "kind")
    assert k["type"] == "AuthError"
    assert "nosuchuser" in k["msg"] and "publickey" in k["msg"]


def test_unknown_host_key_then_accept_new(fabc_ssh, ssh_lab, tmp_path):
    kh = str(tmp_path / "known_hosts")
    h = ssh_lab.host(5)
    r = fabc_ssh("error_kinds", "-H", h, pkg=PKG, known_hosts=kh)
    assert r.returncode == 1
    k = mark(r.stdout, "kind")
    assert k["type"] == "HostKeyError"
    assert "[%s]:%d" % (h, ssh_lab.port) in k["msg"]
    assert "ssh-ed25519" in k["msg"] and "SHA256:" in k["msg"]
    assert "--accept-new-hosts" in k["msg"]
    assert not os.path.exists(kh)
    r = fabc_ssh("echo:new", "-H", h, "--accept-new-hosts", pkg=PKG,
                 known_hosts=kh)
    assert r.returncode == 0, r.stdout + r.stderr
    assert open(kh).read().startswith("[%s]:%d ssh-ed25519 " %
                                      (h, ssh_lab.port))
    r = fabc_ssh("echo:known", "-H", h, pkg=PKG, known_hosts=kh)
    assert r.returncode == 0, r.stdout + r.stderr


def test_changed_host_key_refused(fabc_ssh, ssh_lab, tmp_path):
    h = ssh_lab.host(6)
    other = "AAAAC3NzaC1lZDI1NTE5AAAAIN1Lg0bfM+uH09Ea/r1Vb69b/IWcGcfJo8p5LjmtZ4m/"
    kh = tmp_path / "known_hosts"
    kh.write_text("# test\n127.0.0.1 ssh-ed25519 %s\n[%s]:%d ssh-ed25519 %s\n"
                  % (other, h, ssh_lab.port, other))
    for extra in ([], ["--accept-new-hosts"]):
        r = fabc_ssh("error_kinds", "-H", h, *extra, pkg=PKG,
                     known_hosts=str(kh))
        assert r.returncode == 1
        k = mark(r.stdout, "kind")
        assert k["type"] == "HostKeyError"
        assert "CHANGED" in k["msg"]
        assert "%s:3" % kh in k["msg"]


def test_hashed_known_hosts(fabc_ssh, ssh_lab):
    r = fabc_ssh("echo:hashed", "-H", ssh_lab.host(7), pkg=PKG,
                 known_hosts=ssh_lab.known_hosts_hashed)
    assert r.returncode == 0, r.stdout + r.stderr


def test_proxyjump_through_second_sshd(fabc_ssh, ssh_lab):
    jump, target = ssh_lab.host(10), ssh_lab.host(11)
    cfg = ssh_lab.write_config("jump_config", """
Host inner
    HostName %s
    ProxyJump %s
Host *
    Port %d
    User root
    IdentityFile %s
    IdentitiesOnly yes
""" % (target, jump, ssh_lab.port, ssh_lab.key))
    r = fabc_ssh("via", "-H", "inner", pkg=PKG, ssh_config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    # the target's peer socket belongs to the jump host's sshd, not fabc
    v = mark(r.stdout, "via")
    assert '"sshd"' in v and "fabc" not in v


def test_proxyjump_chain_and_gateway(fabc_ssh, ssh_lab):
    a, b, c = ssh_lab.host(12), ssh_lab.host(13), ssh_lab.host(14)
    cfg = ssh_lab.write_config("chain_config", """
Host deep
    HostName %s
    ProxyJump %s,%s
Host *
    Port %d
    User root
    IdentityFile %s
    IdentitiesOnly yes
""" % (c, a, b, ssh_lab.port, ssh_lab.key))
    r = fabc_ssh("via", "-H", "deep", pkg=PKG, ssh_config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"sshd"' in mark(r.stdout, "via")
    r = fabc_ssh("via", "-H", c, "-g", a, pkg=PKG, ssh_config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"sshd"' in mark(r.stdout, "via")


def test_jump_host_down(fabc_ssh, ssh_lab):
    cfg = ssh_lab.write_config("jumpdown_config", """
Host inner
    HostName %s
    ProxyJump root@127.0.0.98:1
Host *
    Port %d
    User root
    IdentityFile %s
""" % (ssh_lab.host(0), ssh_lab.port, ssh_lab.key))
    r = fabc_ssh("error_kinds", "-H", "inner", pkg=PKG, ssh_config=cfg)
    assert r.returncode == 1
    k = mark(r.stdout, "kind")
    assert k["type"] == "ConnectionError"
    assert "jump host" in k["msg"] and "127.0.0.98" in k["msg"]


def test_parallel_through_one_gateway(fabc_ssh, ssh_lab):
    """Many tunnels opened at once through one jump session each reach
    their own host (libssh2 opens one channel at a time per session)."""
    r = fabc_ssh("server_addr", "-P", "-g", ssh_lab.host(20), "-H",
                 ssh_lab.hosts(10, start=21), pkg=PKG, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    got = marks(r.stdout, "server_addr")
    assert len(got) == 10
    for m in got:
        assert m["addr"] == m["host"], m
    hosts = ssh_lab.addrs[41:61]
    r = fabc_ssh("group_addrs:%s" % ";".join(hosts), "-g", ssh_lab.host(40),
                 "-H", ssh_lab.host(0), pkg=PKG, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "gaddrs") == {h: h for h in hosts}


def test_agent_forwarding_refused_clearly(fabc_ssh, ssh_lab):
    r = fabc_ssh("error_kinds", "-A", "-H", ssh_lab.host(0), pkg=PKG)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "agent forwarding" in out and "libssh2 1.10" in out


def test_connection_refused_with_retries(fabc_ssh, ssh_lab):
    r = fabc_ssh("error_kinds", "-n", "3", "-H", "root@127.0.0.97:1",
                 pkg=PKG)
    assert r.returncode == 1
    k = mark(r.stdout, "kind")
    assert k["type"] == "ConnectionError"
    assert "Connection refused" in k["msg"] and "3 attempts" in k["msg"]
    assert 1.2 < r.elapsed < 10


def test_keepalive_and_config_timeouts(fabc_ssh, ssh_lab):
    cfg = ssh_lab.write_config("alive_config", """
Host *
    Port %d
    User root
    IdentityFile %s
    IdentitiesOnly yes
    ServerAliveInterval 1
    ConnectTimeout 5
""" % (ssh_lab.port, ssh_lab.key))
    r = fabc_ssh("keepalive_sleep:3", "-H", ssh_lab.host(40), pkg=PKG,
                 ssh_config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "keepalive")["stdout"] == "woke"
    r = fabc_ssh("keepalive_sleep:2", "--set", "keepalive=1", "-H",
                 ssh_lab.host(40), pkg=PKG)
    assert r.returncode == 0, r.stdout + r.stderr


def test_config_connect_timeout(fabc_ssh, ssh_lab, silent_listener):
    cfg = ssh_lab.write_config("ct_config", """
Host *
    ConnectTimeout 1
    User root
""")
    r = fabc_ssh("error_kinds", "-H", "127.0.0.99:%d" % silent_listener,
                 pkg=PKG, ssh_config=cfg, timeout=30)
    assert r.returncode == 1
    assert "timed out after 1000 ms" in mark(r.stdout, "kind")["msg"]
    assert r.elapsed < 6


def test_missing_explicit_ssh_config(fabc_ssh, ssh_lab):
    r = fabc_ssh("echo", "-H", ssh_lab.host(0), pkg=PKG,
                 ssh_config="/nonexistent/fabc_ssh_config")
    assert r.returncode != 0
    assert "/nonexistent/fabc_ssh_config" in r.stdout + r.stderr


def test_ssh_config_user_known_hosts_file(fabc_ssh, ssh_lab, tmp_path):
    """UserKnownHostsFile from ssh_config is used, as OpenSSH does, when
    --known-hosts is not given; an explicit --known-hosts still wins."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    cfg = ssh_lab.write_config("ukh_config", """
Host %s
    Port %d
    User root
    IdentityFile %s
    IdentitiesOnly yes
    UserKnownHostsFile %s
""" % (ssh_lab.host(0), ssh_lab.port, ssh_lab.key, ssh_lab.known_hosts))
    cmd = [os.environ.get("FABC", "bin/fabc"), "-f",
           os.path.join(os.path.dirname(os.path.abspath(__file__)), "pkgs",
                        PKG), "--ssh-config", cfg, "-H", ssh_lab.host(0),
           "echo:ukh"]
    import subprocess
    e = dict(os.environ, HOME=str(home))
    e.pop("SSH_AUTH_SOCK", None)
    r = subprocess.run(cmd, env=e, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mark(r.stdout, "echo")["stdout"] == "ukh"
    r = subprocess.run(cmd[:1] + ["--known-hosts", str(empty)] + cmd[1:],
                       env=e, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "unknown host key" in r.stdout + r.stderr
    assert str(empty) in r.stdout + r.stderr
