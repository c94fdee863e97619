"""Tasks for tests/integration/test_config.py: load YAML documents with
fabc's own loader (_fabc.config_load / config_loads) and report the
results as pickles, so the test can compare them with yaml.safe_load
(types, values and the sharing of aliased objects)."""
import base64
import json
import os
import pickle

import _fabc
from fabc import task, puts


def _result(fn, *args, **kwargs):
    try:
        value = fn(*args, **kwargs)
    except _fabc.ConfigError as e:
        return {"error": str(e), "type": type(e).__name__,
                "file": e.file, "line": e.line, "column": e.column}
    except Exception as e:  # reported, the test decides
        return {"error": str(e), "type": type(e).__name__}
    return {"pickle": base64.b64encode(pickle.dumps(value)).decode()}


@task
def load(path):
    """Load one file with _fabc.config_load and print the result."""
    puts("CFGRESULT " + json.dumps(_result(_fabc.config_load, path)))


@task
def load_dir(path):
    """Load every *.yaml of a directory, with config_load (from the file)
    and config_loads (from its text); print one JSON object by name."""
    out = {}
    for name in sorted(os.listdir(path)):
        if not name.endswith(".yaml"):
            continue
        full = os.path.join(path, name)
        with open(full, "rb") as f:
            data = f.read()
        out[name] = {
            "load": _result(_fabc.config_load, full),
            "loads": _result(_fabc.config_loads, data.decode("utf-8"),
                             name=name),
        }
    puts("CFGRESULT " + json.dumps(out))


@task
def loads(text, name="<string>"):
    """Load YAML text given on the command line."""
    puts("CFGRESULT " + json.dumps(_result(_fabc.config_loads, text,
                                           name=name)))


@task
def api_checks():
    """Exercise the _fabc.config_* API in-process; print what was seen."""
    import fabc
    seen = {}
    v = _fabc.config_loads(b"a: &x [1]\nb: *x\nc: &c [*c]\n")
    seen["bytes_ok"] = v["a"] == [1]
    seen["alias_same"] = v["a"] is v["b"]
    seen["cycle"] = v["c"][0] is v["c"]
    try:
        _fabc.config_loads(12)
    except TypeError:
        seen["type_error"] = True
    try:
        _fabc.config_loads("x: [1", name="n.yaml")
    except _fabc.ConfigError as e:
        seen["error_is_fabc_error"] = isinstance(e, fabc.Error) \
            if hasattr(fabc, "Error") else isinstance(e, Exception)
        seen["error"] = [e.file, e.line, e.column, str(e)]
    seen["empty"] = _fabc.config_loads("")
    seen["kw"] = _fabc.config_loads(text="k: v", name="kw.yaml")
    big = _fabc.config_loads("n: " + "9" * 60)["n"]
    seen["bigint"] = big == int("9" * 60)
    ts = _fabc.config_loads("t: 2001-12-14T21:59:43.5Z")["t"]
    seen["utc"] = [type(ts).__name__, ts.isoformat()]
    puts("CFGRESULT " + json.dumps(seen))
