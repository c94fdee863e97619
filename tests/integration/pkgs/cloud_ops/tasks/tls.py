"""TLS tasks for tests/integration/test_cloud_tls.py: fabc.openstack
against the lab's Keystone over https (5001) and mutual TLS (5002), and
fabc.http with cacert/cert/key. Each prints `RESULT <json>` lines; a task
that fails prints the error's fields first, then raises it again, so the
run exits 1 as a user would see it."""
import json
import os
import pathlib

from fabc import task, puts, openstack, http

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(HERE)))))
STACK = os.path.join(ROOT, "heat", "test-stack.yaml")


def result(**kw):
    puts("RESULT " + json.dumps(kw, sort_keys=True))


def error_fields(e):
    return {"type": type(e).__name__, "message": str(e),
            "bases": [c.__name__ for c in type(e).__mro__],
            "url": getattr(e, "url", None),
            "method": getattr(e, "method", None)}


@task
def connect(cloud="", missing="fabc-tls-no-such-stack"):
    """Connect (clouds.yaml cloud or OS_*), then one Heat and one Glance
    call through the token got over TLS."""
    try:
        c = openstack.connect(cloud or None)
    except Exception as e:
        result(error=error_fields(e))
        raise
    valid = c.heat.validate(STACK)
    result(project=c.project_name, source=c.source,
           heat_endpoint=c.endpoint("orchestration"),
           stack_missing=c.heat.get(missing) is None,
           template_parameters=sorted(valid.get("Parameters", {})),
           images=[i.name for i in c.glance.images()])


def _tls_kw(cacert, cert, key, insecure, path_type):
    kw = {}
    for name, value in (("cacert", cacert), ("cert", cert), ("key", key)):
        if value:
            kw[name] = pathlib.Path(value) if path_type == "path" else value
    if insecure == "yes":
        kw["insecure"] = True
    return kw


@task
def http_get(url, cacert="", cert="", key="", insecure="no", path_type="str"):
    """fabc.http.get(url) with the given TLS settings."""
    try:
        r = http.get(url, **_tls_kw(cacert, cert, key, insecure, path_type))
    except Exception as e:
        result(error=error_fields(e))
        raise
    if r.headers.get("content-type", "").startswith("application/json"):
        version = r.json().get("version", {}).get("id")
    else:  # openssl s_server -www's status page
        version = "s_server" if "s_server" in r.body else r.body[:40]
    result(status=r.status, version=version)


@task
def http_many(urls, cacert="", cert="", key="", insecure="no"):
    """fabc.http.check_many over ';'-separated urls."""
    got = http.check_many(urls.split(";"), expect=200, timeout=10,
                          **_tls_kw(cacert, cert, key, insecure, "str"))
    out = {}
    for url, r in got.items():
        out[url] = error_fields(r) if isinstance(r, Exception) \
            else {"status": r.status}
    result(results=out)


@task
def http_bad_args(url, ca):
    """Argument checks of the TLS parameters."""
    out = {}
    for name, kw in (("int_cacert", {"cacert": 3}),
                     ("key_without_cert", {"cacert": ca, "key": ca}),
                     ("empty_cacert", {"cacert": ""}),
                     ("many_int_cert", {"cert": 1.5})):
        try:
            if name.startswith("many_"):
                http.check_many([url], **kw)
            else:
                http.get(url, **kw)
            out[name] = None
        except Exception as e:
            out[name] = error_fields(e)
    result(**out)
