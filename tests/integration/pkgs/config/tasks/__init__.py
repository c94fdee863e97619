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
