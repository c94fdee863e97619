"""fabc side of the render benchmark (run by run.sh)."""
import json
import os
import time

from fabc import task, render_file

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@task
def bench(n="20000", out=""):
    """Render haproxy.cfg.j2 n times (compiled once: render_file caches)."""
    n = int(n)
    with open(os.path.join(HERE, "context.json")) as fh:
        ctx = json.load(fh)
    path = os.path.join(HERE, "haproxy.cfg.j2")
    text = render_file(path, ctx)
    t0 = time.perf_counter()
    for _ in range(n):
        render_file(path, ctx)
    dt = time.perf_counter() - t0
    print(json.dumps({"engine": "fabc", "renders": n, "seconds": dt,
                      "per_second": n / dt, "bytes": len(text),
                      "lines": text.count("\n") + 1}))
    if out:
        with open(out, "w") as fh:
            fh.write(text)
