"""The config loader (_fabc.config_load / config_loads) against PyYAML.

Every document of tests/yaml/ is loaded inside bin/fabc by the tasks of
pkgs/config, and must give what yaml.safe_load gives for the same bytes:
the same types, equal values and the same sharing of aliased objects
(compared through generate.py's canonical dump, which numbers every list
and dict and marks repeats), or a ConfigError at PyYAML's line:column.
"""
import base64
import datetime
import importlib.util
import json
import os
import pickle
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FABC = os.environ.get("FABC") or os.path.join(ROOT, "bin", "fabc")
CORPUS = os.path.join(ROOT, "tests", "yaml")
PKG = os.path.join(HERE, "pkgs", "config")

_spec = importlib.util.spec_from_file_location(
    "yaml_generate", os.path.join(CORPUS, "generate.py"))
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

DOCS = sorted(n for n in os.listdir(CORPUS) if n.endswith(".yaml"))


def run_task(*args):
    r = subprocess.run([FABC, "-f", PKG] + list(args), cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    for line in r.stdout.splitlines():
        if line.startswith("CFGRESULT "):
            return json.loads(line[len("CFGRESULT "):])
    raise AssertionError("no result from fabc (rc %d):\n%s\n%s"
                         % (r.returncode, r.stdout, r.stderr))


@pytest.fixture(scope="module")
def results():
    return run_task("load_dir:path=" + CORPUS)


def pyyaml(name):
    with open(os.path.join(CORPUS, name), "rb") as f:
        data = f.read()
    try:
        return ("ok", yaml.safe_load(data))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        return ("error", (mark.line + 1, mark.column + 1, str(e)))
    except (yaml.YAMLError, ValueError, TypeError, KeyError) as e:
        return ("error", (0, 0, str(e)))


def test_corpus_is_big_enough():
    assert len(DOCS) >= 30
    assert sum(1 for n in DOCS if n.startswith("err_")) >= 10


@pytest.mark.parametrize("how", ["load", "loads"])
@pytest.mark.parametrize("name", DOCS)
def test_document_matches_pyyaml(results, name, how):
    got = results[name][how]
    kind, want = pyyaml(name)
    if kind == "error":
        line, column, text = want
        assert got.get("type") == "ConfigError", (got, text)
        if line:
            assert (got["line"], got["column"]) == (line, column), \
                (got, text)
        assert got["line"] >= 1 and got["column"] >= 1
        where = "%s:%d:%d: " % (got["file"], got["line"], got["column"])
        assert got["error"].startswith(where)
        if how == "load":
            assert got["file"] == os.path.join(CORPUS, name)
        else:
            assert got["file"] == name
        return
    assert "pickle" in got, got
    value = pickle.loads(base64.b64decode(got["pickle"]))
    assert generate.canonical(value) == generate.canonical(want)


def test_types_and_identity():
    text = ("a: &x [1, {k: v}]\nb: *x\nc: &m {p: 1}\nd: {<<: *m, q: 2}\n"
            "t: 2001-12-14 21:59:43.10 -5\nday: 2002-01-02\n"
            "big: 0x" + "f" * 40 + "\ncyc: &c [*c]\n")
    got = run_task("loads:text=" + text.replace(",", "\\,"))
    value = pickle.loads(base64.b64decode(got["pickle"]))
    want = yaml.safe_load(text)
    assert value["a"] is value["b"]
    assert value["d"] == {"p": 1, "q": 2}
    assert value["cyc"][0] is value["cyc"]
    assert type(value["t"]) is datetime.datetime
    assert value["t"] == want["t"]
    assert value["t"].utcoffset() == datetime.timedelta(hours=-5)
    assert type(value["day"]) is datetime.date
    assert value["big"] == int("f" * 40, 16)
    assert generate.canonical(value) == generate.canonical(want)


def test_error_attributes_from_loads():
    got = run_task("loads:text=a: b: c,name=inline.yaml")
    assert got["type"] == "ConfigError"
    assert got["file"] == "inline.yaml"
    assert (got["line"], got["column"]) == (1, 5)
    assert got["error"].startswith("inline.yaml:1:5: mapping values are "
                                   "not allowed")


def test_missing_file_is_oserror():
    got = run_task("load:path=" + os.path.join(CORPUS, "nope.yaml"))
    assert got["type"] in ("FileNotFoundError", "OSError"), got


def test_api_in_process():
    got = run_task("api_checks")
    assert got["bytes_ok"] and got["alias_same"] and got["cycle"]
    assert got["type_error"]
    assert got["error_is_fabc_error"]
    f, line, column, text = got["error"]
    assert (f, line, column) == ("n.yaml", 1, 6)
    assert text.startswith("n.yaml:1:6: ")
    assert got["empty"] is None
    assert got["kw"] == {"k": "v"}
    assert got["bigint"]
    assert got["utc"] == ["datetime", "2001-12-14T21:59:43.500000+00:00"]
