"""SSH benchmark driver: fan-out and SFTP against peer tools.

Prints medians and fabc/peer ratios; never asserts. Run through run.sh.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
FABC = os.environ.get("FABC") or os.path.join(ROOT, "bin", "fabc")
PY = "/usr/bin/python3"
REPS = int(os.environ.get("REPS", "5"))
SIZES = [int(x) for x in os.environ.get("SIZES", "10 50 100 200").split()]
SFTP_MB = int(os.environ.get("SFTP_MB", "512"))


def timed(cmd, env=None, timeout=600):
    """(wall s, client cpu s, peak rss KiB, ok) of one run of cmd."""
    full = ["/usr/bin/time", "-f", "@@T %e %U %S %M"] + cmd
    t = time.monotonic()
    r = subprocess.run(full, capture_output=True, text=True, env=env,
                       timeout=timeout)
    wall = time.monotonic() - t
    m = re.search(r"@@T ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", r.stderr)
    if not m:
        return wall, float("nan"), 0, False, r.stdout + r.stderr
    return (wall, float(m.group(2)) + float(m.group(3)), int(m.group(4)),
            r.returncode == 0, r.stdout + r.stderr)


def median_of(cmd, reps=REPS, env=None):
    walls, cpus, rss, ok, last = [], [], [], True, ""
    for _ in range(reps):
        w, c, m, good, out = timed(cmd, env=env)
        walls.append(w)
        cpus.append(c)
        rss.append(m)
        ok = ok and good
        last = out
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus),
            "rss": max(rss), "ok": ok, "out": last}


def main():
    lab = os.environ["BENCH_LAB"]
    port = int(os.environ["BENCH_PORT"])
    hosts_file = os.path.join(lab, "hosts.txt")
    cfg = os.path.join(lab, "ssh_config")
    kh = os.path.join(lab, "known_hosts")
    key = os.path.join(lab, "id_ed25519")
    hosts = [l.strip() for l in open(hosts_file) if l.strip()]
    env = dict(os.environ)
    env.pop("SSH_AUTH_SOCK", None)
    # Fabric 2 / paramiko and OpenSSH read ~/.ssh: give them the lab's
    home = tempfile.mkdtemp(prefix="fabc-bench-home-")
    os.makedirs(os.path.join(home, ".ssh"))
    shutil.copy(kh, os.path.join(home, ".ssh", "known_hosts"))
    shutil.copy(cfg, os.path.join(home, ".ssh", "config"))
    penv = dict(env, HOME=home)
    fab = [FABC, "-f", HERE, "--ssh-config", cfg, "--known-hosts", kh,
           "--set", "bench_hosts=" + hosts_file]
    print("# uname: %s" % " ".join(os.uname()))
    print("# median of %d runs; cpu = user+sys of the client; rss = peak "
          "KiB" % REPS)
    print("# 'fabc Group' and 'fabc -P' run the command as the peers do "
          "(sshd hands it to the user's shell); 'bash -l' adds Fabric 1's "
          "default /bin/bash -l -c wrapping")
    rows = {}
    for n in SIZES:
        if n > len(hosts):
            continue
        hf = os.path.join(lab, "hosts.%d" % n)
        with open(hf, "w") as f:
            f.write("\n".join(hosts[:n]) + "\n")
        peers = {
            "fabc Group": fab + ["fan:%d" % n],
            "fabc Group bash -l": fab + ["fan:%d,true,1" % n],
            "fabc -P -- true": [FABC, "--ssh-config", cfg, "--known-hosts",
                                kh, "-P", "-q", "--set", "use_shell=",
                                "-H", ",".join(hosts[:n]), "--", "true"],
            "Fabric 2 ThreadingGroup": [PY, os.path.join(HERE,
                                                         "fab2_bench.py"),
                                        "fan", key, str(port), hf, str(n)],
            "pssh": ["parallel-ssh", "-h", hf, "-p", str(n), "-t", "60",
                     "-x", "-F %s" % cfg, "true"],
            "xargs -P ssh": ["sh", "-c", "xargs -P %d -I{} ssh -F %s {} true"
                             " < %s" % (n, cfg, hf)],
            "xargs -P ssh curve25519": [
                "sh", "-c", "xargs -P %d -I{} ssh -F %s -o KexAlgorithms="
                "curve25519-sha256 {} true < %s" % (n, cfg, hf)],
        }
        if shutil.which("ansible"):
            inv = os.path.join(lab, "inventory.%d" % n)
            with open(inv, "w") as f:
                f.write("[lab]\n" + "\n".join(
                    "%s ansible_port=%d ansible_user=root" % (h, port)
                    for h in hosts[:n]) + "\n")
            peers["ansible -f N"] = [
                "ansible", "lab", "-i", inv, "-f", str(n), "-m", "command",
                "-a", "true", "--private-key", key]
        print("\n## one command on %d hosts" % n)
        print("%-26s %9s %9s %9s  %s" % ("tool", "wall s", "cpu s",
                                         "rss KiB", "ok"))
        res = {}
        # ansible drives OpenSSH, which reads ~ from the passwd entry, not
        # $HOME: hand it the lab's ssh_config explicitly
        aenv = dict(penv, ANSIBLE_SSH_COMMON_ARGS="-F %s" % cfg,
                    ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3",
                    ANSIBLE_LOCAL_TEMP=os.path.join(home, ".ansible-tmp"))
        for name, cmd in peers.items():
            r = median_of(cmd, env=env if "fabc" in name
                          else aenv if "ansible" in name else penv)
            res[name] = r
            print("%-26s %9.3f %9.3f %9d  %s" % (name, r["wall"], r["cpu"],
                                                 r["rss"], r["ok"]))
            if not r["ok"]:
                print("   last output: %s" % r["out"][-300:].replace(
                    "\n", " | "))
        rows[n] = res
        f2 = res["Fabric 2 ThreadingGroup"]
        fb = res["fabc Group"]
        print("ratios fabc Group / Fabric 2: wall %.2f  cpu %.2f  rss %.2f"
              % (fb["wall"] / f2["wall"], fb["cpu"] / max(f2["cpu"], 1e-9),
                 fb["rss"] / max(f2["rss"], 1)))
        for peer in ("pssh", "xargs -P ssh", "xargs -P ssh curve25519",
                     "ansible -f N"):
            if peer in res:
                print("ratios fabc Group / %s: wall %.2f  cpu %.2f" % (
                    peer, fb["wall"] / res[peer]["wall"],
                    fb["cpu"] / max(res[peer]["cpu"], 1e-9)))
    # 500 concurrent sessions
    if len(hosts) >= 500:
        print("\n## 500 concurrent sessions (sleep 1 on each)")
        r = median_of(fab + ["fan:500,sleep 1"], reps=1, env=env)
        print("fabc Group 500: wall %.3f s cpu %.3f s peak rss %d KiB ok %s"
              % (r["wall"], r["cpu"], r["rss"], r["ok"]))
        if not r["ok"]:
            print("   last output: %s" % r["out"][-300:])
    # SFTP
    print("\n## SFTP %d MiB to one host" % SFTP_MB)
    src = os.path.join(lab, "bench.src")
    with open(src, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(SFTP_MB):
            f.write(chunk)
    h = hosts[0]
    rem = "/tmp/fabc-bench-%d" % os.getpid()
    back = os.path.join(lab, "bench.back")
    sres = {}

    def once(kind, cmd, e=env):
        ts = []
        for _ in range(max(1, REPS // 2)):
            w, c, m, ok, out = timed(cmd, env=e)
            ts.append(w)
        return statistics.median(ts), ok, out

    r = []
    for _ in range(max(1, REPS // 2)):
        w, c, m, ok, out = timed(
            fab + ["-H", h, "sftp:%s,%s,%s" % (src, rem, back)], env=env)
        mm = re.search(r"sftp put ([\d.]+) s get ([\d.]+) s", out)
        if mm:
            r.append((float(mm.group(1)), float(mm.group(2))))
    if r:
        sres["fabc"] = (statistics.median(x[0] for x in r),
                        statistics.median(x[1] for x in r))
    put_sftp = once("put", ["sh", "-c", "echo 'put %s %s' | sftp -q -F %s "
                            "-b - %s >/dev/null" % (src, rem, cfg, h)])[0]
    get_sftp = once("get", ["sh", "-c", "echo 'get %s %s' | sftp -q -F %s "
                            "-b - %s >/dev/null" % (rem, back, cfg, h)])[0]
    sres["OpenSSH sftp"] = (put_sftp, get_sftp)
    put_scp = once("put", ["scp", "-q", "-F", cfg, src, "%s:%s" % (h, rem)])[0]
    get_scp = once("get", ["scp", "-q", "-F", cfg, "%s:%s" % (h, rem),
                           back])[0]
    sres["OpenSSH scp"] = (put_scp, get_scp)
    w, c, m, ok, out = timed([PY, os.path.join(HERE, "fab2_bench.py"),
                              "sftp", key, str(port), h, src, rem, back],
                             env=penv)
    mm = re.search(r"put ([\d.]+) s get ([\d.]+) s", out)
    if mm:
        sres["Fabric 2"] = (float(mm.group(1)), float(mm.group(2)))
    print("%-16s %12s %12s" % ("tool", "put MiB/s", "get MiB/s"))
    for k, (tp, tg) in sres.items():
        print("%-16s %12.1f %12.1f" % (k, SFTP_MB / tp, SFTP_MB / tg))
    if "fabc" in sres:
        for k in ("OpenSSH sftp", "OpenSSH scp", "Fabric 2"):
            if k in sres:
                print("ratios fabc / %s throughput: put %.2f  get %.2f" % (
                    k, sres[k][0] / sres["fabc"][0],
                    sres[k][1] / sres["fabc"][1]))
    for p in (src, back):
        try:
            os.unlink(p)
        except OSError:
            pass
    subprocess.run([FABC, "--ssh-config", cfg, "--known-hosts", kh, "-q",
                    "-H", h, "--", "rm -f %s" % rem], env=env,
                   capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
