#!/usr/bin/python3
"""Write the expected value of every tests/yaml/*.yaml as PyYAML gives it.

For each document NAME.yaml this writes NAME.expected holding either the
canonical dump of yaml.safe_load(bytes) (see canonical() below; runner/
config.c fabc_config_dump() writes the very same form) or, for malformed
documents, one line "error:LINE:COLUMN: message" with PyYAML's 1-based
problem position (0:0 when PyYAML fails without a position).

Run with Debian's interpreter (python3-yaml 6.0):
    /usr/bin/python3 tests/yaml/generate.py
It also loads each document with libyaml (yaml.CSafeLoader) and warns when
the two PyYAML loaders disagree, since fabc parses with libyaml.
"""
import datetime
import json
import math
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def scalar(v):
    """Canonical text of one scalar value."""
    if v is None:
        return "null"
    if v is True:
        return "bool:true"
    if v is False:
        return "bool:false"
    if isinstance(v, int):
        return "int:%d" % v
    if isinstance(v, float):
        if math.isnan(v):
            return "float:nan"
        if math.isinf(v):
            return "float:inf" if v > 0 else "float:-inf"
        return "float:%.17g" % v
    if isinstance(v, str):
        return "str:" + json.dumps(v)
    if isinstance(v, datetime.datetime):
        s = "datetime:%04d-%02d-%02dT%02d:%02d:%02d.%06d" % (
            v.year, v.month, v.day, v.hour, v.minute, v.second,
            v.microsecond)
        if v.tzinfo is not None:
            s += "@%d" % (v.utcoffset().total_seconds() // 60)
        return s
    if isinstance(v, datetime.date):
        return "date:%04d-%02d-%02d" % (v.year, v.month, v.day)
    raise TypeError("no canonical form for %r" % type(v))


def canonical(value):
    """One value per line, two spaces per level; every list/dict is
    numbered (&N) in first-visit order and shown as *N when seen again,
    so shared (aliased) objects and cycles are visible."""
    lines = []
    seen = {}
    nokey = object()

    def walk(v, indent, key):
        pre = " " * indent + ("" if key is nokey else scalar(key) + " => ")
        if not isinstance(v, (list, dict)):
            lines.append(pre + scalar(v))
            return
        if id(v) in seen:
            lines.append(pre + "*%d" % seen[id(v)])
            return
        seen[id(v)] = len(seen)
        if isinstance(v, list):
            lines.append(pre + "[ &%d" % seen[id(v)])
            for item in v:
                walk(item, indent + 2, nokey)
            lines.append(" " * indent + "]")
        else:
            lines.append(pre + "{ &%d" % seen[id(v)])
            for k, item in v.items():
                walk(item, indent + 2, k)
            lines.append(" " * indent + "}")

    walk(value, 0, nokey)
    return "\n".join(lines) + "\n"


def expected(data, loader=yaml.SafeLoader):
    """The .expected text for the bytes `data`."""
    try:
        value = yaml.load(data, Loader=loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        msg = e.problem or e.context or ""
        return "error:%d:%d: %s\n" % (mark.line + 1, mark.column + 1, msg)
    except (yaml.YAMLError, ValueError, TypeError, KeyError) as e:
        # no line/column (a reader error, or safe_load failing outside
        # YAML's error classes, e.g. int('twenty-two')): only "an error"
        return "error:0:0: %s: %s\n" % (type(e).__name__,
                                        str(e).replace("\n", " "))
    return canonical(value)


def main():
    names = sorted(n for n in os.listdir(HERE) if n.endswith(".yaml"))
    for name in names:
        with open(os.path.join(HERE, name), "rb") as f:
            data = f.read()
        text = expected(data)
        if hasattr(yaml, "CSafeLoader"):
            ctext = expected(data, yaml.CSafeLoader)
            if ctext.split(":", 3)[:3] != text.split(":", 3)[:3] \
                    and not (ctext == text):
                print("warning: %s: PyYAML and libyaml disagree:\n  %s  %s"
                      % (name, text.splitlines()[0], ctext.splitlines()[0]),
                      file=sys.stderr)
        out = os.path.join(HERE, name[:-5] + ".expected")
        with open(out, "w") as f:
            f.write(text)
    print("%d documents" % len(names))


if __name__ == "__main__":
    main()
