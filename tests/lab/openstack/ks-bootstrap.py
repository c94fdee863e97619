"""Ensure the Keystone objects the fabc lab needs (idempotent).

Run by tests/lab/openstack-start.sh with Debian's /usr/bin/python3 after
`keystone-manage bootstrap`. Reads KS_URL, LAB_HOST, ADMIN_PASS, SVC_PASS,
DEMO_PASS from the environment. Prints nothing secret.
"""
import json
import os
import urllib.error
import urllib.parse
import urllib.request

KS = os.environ["KS_URL"]
HOST = os.environ["LAB_HOST"]


def call(method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(KS + path, method=method, data=data)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.headers, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raise SystemExit("keystone %s %s: HTTP %d %s"
                         % (method, path, e.code, e.read()[:300]))


hdrs, _ = call("POST", "/auth/tokens", {"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"},
        "password": os.environ["ADMIN_PASS"]}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
TOKEN = hdrs["X-Subject-Token"]


def lookup(coll, **query):
    qs = urllib.parse.urlencode(query)
    return call("GET", "/%s?%s" % (coll, qs), token=TOKEN)[1][coll]


def ensure(coll, one, query, body):
    found = lookup(coll, **query)
    if found:
        return found[0]["id"]
    return call("POST", "/" + coll, {one: body}, token=TOKEN)[1][one]["id"]


def role(name):
    return ensure("roles", "role", {"name": name}, {"name": name})


def project(name, dom="default"):
    return ensure("projects", "project", {"name": name, "domain_id": dom},
                  {"name": name, "domain_id": dom})


def user(name, password, dom="default"):
    uid = ensure("users", "user", {"name": name, "domain_id": dom},
                 {"name": name, "domain_id": dom, "password": password,
                  "enabled": True})
    return uid


def grant(kind, target, uid, rid):
    call("PUT", "/%s/%s/users/%s/roles/%s" % (kind, target, uid, rid),
         token=TOKEN)


def service(name, typ):
    return ensure("services", "service", {"type": typ},
                  {"name": name, "type": typ, "enabled": True})


def endpoint(sid, iface, url):
    for e in lookup("endpoints", service_id=sid, interface=iface):
        if e["url"] == url and e.get("region_id") == "RegionOne":
            return
        call("DELETE", "/endpoints/" + e["id"], token=TOKEN)
    call("POST", "/endpoints", {"endpoint": {
        "service_id": sid, "interface": iface, "url": url,
        "region_id": "RegionOne", "enabled": True}}, token=TOKEN)


svc_pw = os.environ["SVC_PASS"]
admin_r = role("admin")
member_r = role("member")
owner_r = role("heat_stack_owner")
role("heat_stack_user")
service_p = project("service")
demo_p = project("demo")
for name in ("heat", "glance"):
    grant("projects", service_p, user(name, svc_pw), admin_r)
heat_dom = ensure("domains", "domain", {"name": "heat"},
                  {"name": "heat", "description": "Heat stack users"})
grant("domains", heat_dom, user("heat_domain_admin", svc_pw, heat_dom),
      admin_r)
demo_u = user("demo", os.environ["DEMO_PASS"])
grant("projects", demo_p, demo_u, member_r)
grant("projects", demo_p, demo_u, owner_r)
orch = service("heat", "orchestration")
image = service("glance", "image")
for iface in ("public", "internal", "admin"):
    endpoint(orch, iface, "http://%s:8004/v1/%%(tenant_id)s" % HOST)
    endpoint(image, iface, "http://%s:9292" % HOST)
print("keystone objects ensured (demo project %s)" % demo_p)
