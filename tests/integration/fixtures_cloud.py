"""Fixtures for the cloud tests: the real loopback OpenStack lab.

`cloud_lab` (session) starts the lab with tests/lab/openstack-start.sh when
Keystone, Heat and Glance are not all answering, and yields the paths of
tests/lab/run/openrc and clouds.yaml plus `env`: the OS_* variables of the
demo user for subprocesses. Nothing here fakes an OpenStack API.
"""
import json
import os
import re
import socket
import subprocess
import types
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(ROOT, "tests", "lab")
RUN = os.path.join(LAB, "run")
STATE = os.environ.get("FABC_LAB_OS_DIR") or os.path.join(RUN, "openstack")
CLOUD_PKG = os.path.join(HERE, "pkgs", "cloud_ops")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def lab_running():
    return (os.path.exists(os.path.join(RUN, "openrc"))
            and all(port_open(p) for p in (5000, 8004, 9292)))


def read_openrc(path):
    env = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*export\s+(OS_[A-Z_]+)=(.*)$", line)
            if m:
                env[m.group(1)] = m.group(2).strip().strip("'\"")
    return env


def heat_pid():
    with open(os.path.join(STATE, "pids", "heat-all.pid")) as f:
        return int(f.read().strip())


@pytest.fixture(scope="session")
def cloud_lab():
    if not lab_running():
        if os.geteuid() != 0:
            pytest.skip("the OpenStack lab is not running and starting it "
                        "needs root (make lab)")
        subprocess.run(["sh", os.path.join(LAB, "openstack-start.sh")],
                       check=True, timeout=900)
    env = read_openrc(os.path.join(RUN, "openrc"))
    yield types.SimpleNamespace(
        openrc=os.path.join(RUN, "openrc"),
        clouds_yaml=os.path.join(RUN, "clouds.yaml"),
        admin_openrc=os.path.join(RUN, "admin-openrc"),
        env=env, state=STATE, heat_pid=heat_pid)


@pytest.fixture
def cloud_env(cloud_lab):
    """Environment for a fabc subprocess: os.environ without any OS_*,
    plus the lab's demo credentials."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    e.update(cloud_lab.env)
    return e


@pytest.fixture
def run_cloud(cloud_env):
    """run_cloud(task_spec, *options, env=None, timeout=300) runs
    bin/fabc -f tests/integration/pkgs/cloud_ops with the lab's
    credentials; returns (CompletedProcess, [RESULT dicts])."""
    from conftest import fabc_cmd

    def run(spec, *options, env=None, timeout=300, pkg=CLOUD_PKG,
            cwd=None):
        e = dict(cloud_env)
        if env:
            e.update(env)
        p = subprocess.run(fabc_cmd(*options, "-f", pkg, spec),
                           cwd=cwd or ROOT, env=e, capture_output=True,
                           text=True, timeout=timeout)
        results = [json.loads(line.split("RESULT ", 1)[1])
                   for line in p.stdout.splitlines() if "RESULT " in line]
        return p, results
    return run


@pytest.fixture
def unique():
    """A short unique name for stacks and tags of one test."""
    return lambda prefix="t": "fabc-%s-%s" % (prefix, uuid.uuid4().hex[:8])
