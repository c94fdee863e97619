"""Shared pytest fixtures: how to run bin/fabc.

Subsystem fixtures live in fixtures_<name>.py beside this file and are
loaded as plugins when present."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FABC = os.environ.get("FABC") or os.path.join(ROOT, "bin", "fabc")
PKGS = os.path.join(HERE, "pkgs")

sys.path.insert(0, HERE)
pytest_plugins = [name for name in ("fixtures_ssh", "fixtures_cloud")
                  if os.path.exists(os.path.join(HERE, name + ".py"))]


def fabc_cmd(*args):
    return [FABC] + [str(a) for a in args]


@pytest.fixture
def run_fabc():
    """run_fabc(*args, cwd=None, env=None, timeout=120, input=None) ->
    CompletedProcess (text); env entries are added to os.environ."""
    def run(*args, cwd=None, env=None, timeout=120, input=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        return subprocess.run(fabc_cmd(*args), cwd=cwd or ROOT, env=e,
                              capture_output=True, text=True,
                              timeout=timeout, input=input)
    return run


@pytest.fixture
def pkg():
    """pkg(name) -> path of tests/integration/pkgs/<name>."""
    return lambda name: os.path.join(PKGS, name)
