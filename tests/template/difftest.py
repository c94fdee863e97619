#!/usr/bin/python3
"""Differential test: random templates rendered by Jinja2 and by fabc.

    sh tests/template/build_ext.sh
    /usr/bin/python3 tests/template/difftest.py [COUNT] [SEED]

Builds random expressions and statements from the supported grammar,
renders each with Jinja2 (StrictUndefined and the default Undefined) and
with the test extension _fabc_tpl_test, and prints every case where the
outputs differ or only one side raised. Cases whose Jinja2 output shows
an object address (generators) are skipped. Exit status 1 on mismatches.
"""
import copy
import os
import random
import re
import sys

import jinja2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "build"))
import _fabc_tpl_test as fabc  # noqa: E402

CTX = {
    "n": 7, "m": -2, "f": 2.5, "z": 0, "t": True, "no": False, "none": None,
    "s": "Hello World", "e": "", "u": "ünï", "xs": [3, 1, 2], "ws": ["b", "A", "c"],
    "el": [], "d": {"b": 2, "a": 1}, "nested": {"k": {"v": [1, 2]}},
    "hs": [{"name": "web", "port": 80, "up": True},
           {"name": "db", "port": 5432, "up": False}],
    "pairs": [[1, "x"], [2, "y"]],
}
NAMES = list(CTX) + ["missing"]
FILTERS = [
    ("upper", []), ("lower", []), ("title", []), ("capitalize", []),
    ("trim", []), ("length", []), ("first", []), ("last", []),
    ("list", []), ("string", []), ("int", []), ("float", []), ("abs", []),
    ("round", []), ("round", ["1"]), ("sort", []), ("sort", ["reverse=true"]),
    ("unique", []), ("reverse", []), ("join", ["','"]), ("join", []),
    ("default", ["'dflt'"]), ("d", ["0", "true"]), ("center", ["9"]),
    ("indent", ["2"]), ("wordcount", []), ("truncate", ["5"]),
    ("tojson", []), ("dictsort", []), ("items", []), ("sum", []),
    ("min", []), ("max", []), ("batch", ["2"]), ("slice", ["2"]),
    ("map", ["'string'"]), ("select", ["'odd'"]), ("reject", ["'even'"]),
    ("replace", ["'o'", "'0'"]), ("format", ["1"]), ("e", []),
    ("urlencode", []), ("count", []), ("map", ["attribute='name'"]),
    ("selectattr", ["'up'"]), ("sort", ["attribute='port'"]),
]
TESTS = ["defined", "undefined", "none", "number", "string", "mapping",
         "iterable", "sequence", "odd", "even", "divisibleby 3", "eq 7",
         "lt 3", "in xs", "boolean", "integer", "float", "lower", "upper"]
LITS = ["1", "0", "-3", "2.5", "'a'", "'x y'", "[1, 2]", "(1, 'b')",
        "{'k': 1}", "true", "none", "''"]


LAZY = re.compile(r"\|(map|select|reject|selectattr|rejectattr|unique|"
                  r"batch|slice|items|reverse)\b")


def expr(r, depth=0):
    k = r.randrange(12 if depth < 3 else 3)
    if k == 0:
        return r.choice(NAMES)
    if k == 1:
        return r.choice(LITS)
    if k == 2:
        base = r.choice(["d", "nested", "hs[0]", "pairs", "xs", "s",
                         "missing", "d.b", "hs"])
        return base + r.choice([".a", "['b']", "[0]", "[-1]", ".name",
                                "[1:]", ".k", ".nope", "[5]", ".items()",
                                ".keys()|list", ".upper()"])
    if k in (3, 4):
        name, args = r.choice(FILTERS)
        a = "(" + ", ".join(args) + ")" if args else ""
        return "%s|%s%s" % (expr(r, depth + 1), name, a)
    if k == 5:
        return "%s %s %s" % (expr(r, depth + 1),
                             r.choice(["+", "-", "*", "/", "//", "%", "~",
                                       "**"]), expr(r, depth + 1))
    if k == 6:
        return "%s %s %s" % (expr(r, depth + 1),
                             r.choice(["==", "!=", "<", ">=", "in",
                                       "not in"]), expr(r, depth + 1))
    if k == 7:
        return "%s is %s%s" % (expr(r, depth + 1), r.choice(["", "not "]),
                               r.choice(TESTS))
    if k == 8:
        return "(%s %s %s)" % (expr(r, depth + 1), r.choice(["and", "or"]),
                               expr(r, depth + 1))
    if k == 9:
        return "(%s if %s else %s)" % (expr(r, depth + 1),
                                       expr(r, depth + 1),
                                       expr(r, depth + 1))
    if k == 10:
        return "not " + expr(r, depth + 1)
    return "[%s, %s]" % (expr(r, depth + 1), expr(r, depth + 1))


def stmt(r, depth=0):
    k = r.randrange(7 if depth < 2 else 2)
    if k == 0:
        return "{{ %s }}" % expr(r)
    if k == 1:
        return r.choice(["x", " ", "\n", "-", "  y\n"])
    if k == 2:
        return "{%% if %s %%}%s{%% else %%}%s{%% endif %%}" % (
            expr(r), stmt(r, depth + 1), stmt(r, depth + 1))
    if k == 3:
        return "{%% for v in %s %%}[{{ v }}%s{{ loop.index }}]{%% else %%}" \
               "E{%% endfor %%}" % (r.choice(["xs", "ws", "el", "d", "s",
                                              "hs", "pairs", "missing",
                                              "xs|sort"]),
                                    stmt(r, depth + 1))
    if k == 4:
        return "{%% set q = %s %%}{{ q }}" % expr(r)
    if k == 5:
        return "{%% macro mm(a, b=2) %%}<{{ a }}|{{ b }}>{%% endmacro %%}" \
               "{{ mm(%s) }}" % expr(r)
    return "{%%- if %s -%%} %s {%%- endif %%}" % (expr(r), stmt(r, depth + 1))


def run_jinja(src, strict):
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined)
    try:
        return ("ok", env.from_string(src).render(copy.deepcopy(CTX)))
    except Exception as e:  # noqa: BLE001 -- any Jinja2 failure counts
        return ("err", "%s: %s" % (type(e).__name__, e))


def run_fabc(src, strict):
    try:
        return ("ok", fabc.render(src, copy.deepcopy(CTX),
                                  undefined="strict" if strict else "lenient"))
    except fabc.TemplateError as e:
        return ("err", str(e))


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    r = random.Random(seed)
    bad = lazy = 0
    for i in range(count):
        src = "".join(stmt(r) for _ in range(r.randrange(1, 4)))
        for strict in (True, False):
            j = run_jinja(src, strict)
            if j[0] == "ok" and " at 0x" in j[1]:
                continue
            f = run_fabc(src, strict)
            if j[0] != f[0] or (j[0] == "ok" and j[1] != f[1]):
                if LAZY.search(src):
                    # Jinja2's generator filters are lazy (errors or
                    # truthiness differ when never consumed); fabc's
                    # return lists -- a documented difference
                    lazy += 1
                    continue
                bad += 1
                print("MISMATCH %s %r\n  jinja2: %r\n  fabc:   %r"
                      % ("strict" if strict else "lenient", src, j, f))
    print("%d templates, %d mismatches (%d more with generator filters)"
          % (count, bad, lazy), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
