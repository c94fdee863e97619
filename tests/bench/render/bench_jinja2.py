"""Jinja2 side of the render benchmark: compile once, render N times.

Usage: /usr/bin/python3 bench_jinja2.py N  -> prints renders/s as JSON."""
import json
import os
import sys
import time

import jinja2

here = os.path.dirname(os.path.abspath(__file__))
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
with open(os.path.join(here, "context.json")) as fh:
    ctx = json.load(fh)
env = jinja2.Environment(loader=jinja2.FileSystemLoader(here),
                         undefined=jinja2.StrictUndefined)
tpl = env.get_template("haproxy.cfg.j2")
out = tpl.render(ctx)
t0 = time.perf_counter()
for _ in range(n):
    tpl.render(ctx)
dt = time.perf_counter() - t0
print(json.dumps({"engine": "jinja2 " + jinja2.__version__, "renders": n,
                  "seconds": dt, "per_second": n / dt, "bytes": len(out),
                  "lines": out.count("\n") + 1}))
with open(sys.argv[2] if len(sys.argv) > 2 else os.devnull, "w") as fh:
    fh.write(out)
