"""The reference deployment end to end, on the lab: real Keystone, Heat
and Glance, and the lab's sshd hosts running the app.

Each test runs the repository's own tasks/ and config.yaml with --set
overrides, so its stack, hosts and app port never meet the demo's.
"""
import json
import os
import subprocess
import urllib.request
import uuid

import pytest

from conftest import FABC, ROOT

LAB = os.path.join(ROOT, "tests", "lab")
SSH_DIR = os.path.join(LAB, "run", "ssh")


@pytest.fixture(scope="session")
def deploy_lab(cloud_lab):
    """The lab's sshd hosts (make lab's) and OpenStack."""
    if not os.path.exists(os.path.join(SSH_DIR, "sshd.0.pid")) or \
            subprocess.run(["sh", "-c", "kill -0 $(cat %s)" % os.path.join(
                SSH_DIR, "sshd.0.pid")]).returncode != 0:
        subprocess.run(["sh", os.path.join(LAB, "sshd-start.sh")],
                       check=True, timeout=120)
    with open(os.path.join(SSH_DIR, "hosts.txt")) as f:
        hosts = [l.strip() for l in f if l.strip()]
    return hosts


def fabc(*args, sets=None, timeout=600):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    cmd = [FABC, "-f", os.path.join(ROOT, "tasks")]
    if sets:
        cmd += ["--set", ",".join("%s=%s" % kv for kv in sets.items())]
    cmd += list(args)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def health(addr, port):
    try:
        with urllib.request.urlopen("http://%s:%d/health" % (addr, port),
                                    timeout=5) as r:
            return r.status, json.loads(r.read())["version"]
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())["version"]


def last_octet(addr):
    return int(addr.rsplit(".", 1)[1])


@pytest.fixture
def tags():
    u = uuid.uuid4().hex[:6]
    made = []

    def tag(name):
        t = "t%s%s" % (u, name)
        made.append(t)
        return t
    yield tag
    for t in made:
        fabc("images.delete:%s,force=yes" % t, timeout=120)


def test_create_update_broken_release_rollback_delete(deploy_lab, tags):
    port = 18081
    first = 14
    sets = {"stack_name": "fabc-test-%s" % uuid.uuid4().hex[:6],
            "lab_first_host": first, "count": 4, "batch_size": 2,
            "app.port": port, "health.timeout": 8}
    addrs = ["127.0.0.%d" % (first + i) for i in range(4)]
    assert all(a in deploy_lab for a in addrs), "lab has too few hosts"
    t1, t2, bad = tags("a"), tags("b"), tags("bad")
    r = fabc("images.build:" + t1, "images.build:" + t2,
             "images.build:%s,broken=yes" % bad)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        # create: stack, deploy, health
        r = fabc("stack.create:env=lab,tag=" + t1, sets=sets)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "4 servers serve %s" % t1 in r.stdout
        assert [health(a, port) for a in addrs] == [(200, t1)] * 4

        # creating it again is a clear error
        r = fabc("stack.create:env=lab,tag=" + t1, sets=sets)
        assert r.returncode == 1
        assert "exists already" in r.stderr

        r = fabc("tests.fast:lab", sets=sets)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "all 4 servers serve %s" % t1 in r.stdout

        # an image the stack uses is not deleted
        r = fabc("images.delete:" + t1, sets=sets)
        assert r.returncode == 1
        assert "in use" in r.stderr

        # --dry-run shows the preview and the commands, changes nothing
        r = fabc("--dry-run", "stack.update:env=lab,tag=" + t2, sets=sets)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "dry run" in r.stdout and "Heat preview" in r.stdout
        assert "batch 1/2" in r.stdout and "batch 2/2" in r.stdout
        assert "would deploy release %s" % t2 in r.stdout
        assert [health(a, port) for a in addrs] == [(200, t1)] * 4

        # the update procedure, with a JSON report
        report = os.path.join(ROOT, "build", "test-update-%s.json" % t2)
        os.makedirs(os.path.dirname(report), exist_ok=True)
        r = fabc("--json", report, "update:env=lab,tag=" + t2, sets=sets)
        assert r.returncode == 0, r.stdout + r.stderr
        rep = json.load(open(report))
        os.unlink(report)
        assert rep["exit_code"] == 0
        assert rep["tasks"][0]["name"] == "update"
        assert rep["tasks"][0]["status"] == "ok"
        assert rep["tasks"][0]["hosts"][0]["result"] == t2
        assert [health(a, port) for a in addrs] == [(200, t2)] * 4

        # a broken release stops after the first batch and rolls it back
        r = fabc("stack.update:env=lab,tag=" + bad, sets=sets)
        assert r.returncode == 1
        assert "stopped at batch 1/2" in r.stderr
        assert "rolled back to %s" % t2 in r.stderr
        assert [health(a, port) for a in addrs] == [(200, t2)] * 4
        r = fabc("tests.fast:lab", sets=sets)
        assert r.returncode == 0, r.stdout + r.stderr

        # roll back to the first release
        r = fabc("rollback:env=lab,tag=" + t1, sets=sets)
        assert r.returncode == 0, r.stdout + r.stderr
        assert [health(a, port) for a in addrs] == [(200, t1)] * 4
    finally:
        r = fabc("--yes", "stack.delete:lab", sets=sets)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deleted" in r.stdout
    # the app is stopped: nothing answers any more
    for a in addrs:
        with pytest.raises(OSError):
            urllib.request.urlopen("http://%s:%d/health" % (a, port),
                                   timeout=2)


def test_unreachable_host_during_deploy(deploy_lab, tags):
    """The last lab host and the address after it (no sshd there): one
    server deploys, the other is reported, exit 1."""
    last = max(deploy_lab, key=last_octet)
    first = last_octet(last)
    port = 18082
    sets = {"stack_name": "fabc-test-%s" % uuid.uuid4().hex[:6],
            "lab_first_host": first, "count": 2, "batch_size": 1,
            "app.port": port, "health.timeout": 8}
    t1 = tags("u")
    r = fabc("images.build:" + t1)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        r = fabc("stack.create:env=lab,tag=" + t1, sets=sets)
        assert r.returncode == 1
        down = "127.0.0.%d" % (first + 1)
        assert "1 of 2 servers failed" in r.stderr
        assert down in r.stderr and "ConnectionError" in r.stderr
        assert health(last, port) == (200, t1)
    finally:
        r = fabc("--yes", "stack.delete:lab", sets=sets)
    assert r.returncode == 0, r.stdout + r.stderr


def test_delete_needs_confirmation_and_production_needs_yes(deploy_lab):
    r = fabc("stack.delete:lab",
             sets={"stack_name": "fabc-test-never-created"})
    assert r.returncode == 1
    assert "not confirmed" in r.stderr
    r = fabc("stack.delete:production")
    assert r.returncode == 1
    assert "refusing to delete production" in r.stderr


def test_missing_image_and_unknown_env(deploy_lab):
    r = fabc("stack.create:env=lab,tag=no-such-tag-xyz",
             sets={"stack_name": "fabc-test-noimage"})
    assert r.returncode == 1
    assert "no active app image tagged 'no-such-tag-xyz'" in r.stderr
    r = fabc("stack.create:env=qa,tag=v1")
    assert r.returncode == 1
    assert "unknown env 'qa'" in r.stderr
