"""Tasks driving fabc.openstack and fabc.http against the lab, for
tests/integration/test_cloud_*.py. Each prints `RESULT <json>` lines the
tests parse."""
import json
import os
import time
import urllib.error
import urllib.request

from fabc import task, puts, CloudError, AuthError
from fabc import openstack, http

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(HERE)))))
HEAT = os.path.join(ROOT, "tests", "integration", "heat")
STACK = os.path.join(ROOT, "heat", "test-stack.yaml")


def result(**kw):
    puts("RESULT " + json.dumps(kw, sort_keys=True))


def error_fields(e):
    return {"type": type(e).__name__, "message": str(e),
            "status": getattr(e, "status", None),
            "method": getattr(e, "method", None),
            "url": getattr(e, "url", None),
            "request_id": getattr(e, "request_id", None)}


@task
def lifecycle(name):
    cloud = openstack.connect()
    stack = cloud.heat.create(name, STACK, parameters={"tag": "v1",
                                                       "instance_count": 2})
    got = cloud.heat.get(name)
    events = got.events()
    resources = got.resources()
    result(step="created", status=stack.status, outputs=stack.outputs,
           same_id=got.id == stack.id, events=len(events),
           resources=sorted(r["resource_name"] for r in resources),
           parameters=got.parameters.get("tag"))
    cloud.heat.delete(name)
    result(step="deleted", after=cloud.heat.get(name) is None)


@task
def patch(name):
    cloud = openstack.connect()
    first = cloud.heat.create(name, STACK, parameters={"tag": "v1",
                                                       "instance_count": 1})
    second = cloud.heat.update(name, existing=True,
                               parameters={"tag": "v2"})
    result(first=first.outputs, second=second.outputs,
           status=second.status,
           count=second.parameters.get("instance_count"),
           description=second.data.get("description"))
    cloud.heat.delete(name)


@task
def fail_update(name, rollback):
    cloud = openstack.connect()
    cloud.heat.create(name, STACK, parameters={"tag": "v1",
                                               "instance_count": 1})
    err = None
    try:
        cloud.heat.update(name, existing=True,
                          parameters={"tag": "v2", "fail": True},
                          rollback=rollback == "yes")
    except CloudError as e:
        err = error_fields(e)
    after = cloud.heat.get(name)
    result(error=err, status=after.status, tag=after.outputs.get("tag"))
    cloud.heat.delete(name)


@task
def files(name):
    cloud = openstack.connect()
    stack = cloud.heat.create(
        name, os.path.join(HEAT, "with-files.yaml"),
        environment=[os.path.join(HEAT, "env.yaml")])
    result(status=stack.status, outputs=stack.outputs)
    cloud.heat.delete(name)


@task
def invalid(name):
    cloud = openstack.connect()
    out = {}
    for what in ("create", "validate"):
        try:
            if what == "create":
                cloud.heat.create(name, os.path.join(HEAT, "invalid.yaml"))
            else:
                cloud.heat.validate(os.path.join(HEAT, "invalid.yaml"))
            out[what] = None
        except CloudError as e:
            out[what] = error_fields(e)
    out["exists"] = cloud.heat.get(name) is not None
    result(**out)


@task
def duplicate(name):
    cloud = openstack.connect()
    cloud.heat.create(name, STACK, parameters={"instance_count": 0})
    err = None
    try:
        cloud.heat.create(name, STACK, parameters={"instance_count": 0})
    except CloudError as e:
        err = error_fields(e)
    result(error=err)
    cloud.heat.delete(name)


@task
def connect_only():
    cloud = openstack.connect()
    result(project=cloud.project_name)


@task
def revoke(name):
    cloud = openstack.connect()
    auth = os.environ["OS_AUTH_URL"].rstrip("/")
    old = cloud.auth_token
    cloud.heat.create(name, STACK, parameters={"instance_count": 0})
    # revoke the token fabc holds, through Keystone itself
    req = urllib.request.Request(auth + "/auth/tokens", method="DELETE",
                                 headers={"X-Auth-Token": old,
                                          "X-Subject-Token": old})
    with urllib.request.urlopen(req, timeout=30) as r:
        revoked_status = r.status
    probe = urllib.request.Request(auth + "/auth/tokens", method="GET",
                                   headers={"X-Auth-Token": old,
                                            "X-Subject-Token": old})
    try:
        urllib.request.urlopen(probe, timeout=30)
        old_valid = True
    except urllib.error.HTTPError as e:
        old_valid = e.code not in (401, 404)
    time.sleep(4)     # Heat caches token validations for 3 s in the lab
    stack = cloud.heat.get(name)        # 401 -> re-auth -> retried
    renewed = cloud.auth_token != old
    cloud.heat.delete(name)
    result(revoked_status=revoked_status, old_valid=old_valid,
           found=stack is not None and stack.name == name, renewed=renewed)


@task
def slow_create(name, timeout):
    cloud = openstack.connect()
    cloud.heat.create(name, os.path.join(HEAT, "slow.yaml"),
                      parameters={"wait_secs": 40}, timeout=float(timeout))


@task
def cleanup(name):
    cloud = openstack.connect()
    cloud.heat.delete(name, timeout=120)
    result(gone=cloud.heat.get(name) is None)


@task
def preview(name):
    cloud = openstack.connect()
    p = cloud.heat.preview(name, STACK, parameters={"instance_count": 1})
    top = p["stack"]["resources"]
    result(exists=cloud.heat.get(name) is not None,
           resources=sorted(r["resource_name"] for r in top
                            if isinstance(r, dict)),
           nested=[len(r) for r in top if isinstance(r, list)])


@task
def glance_flow(tag, path):
    glance = openstack.connect().glance
    img = glance.upload("fabc-it-" + tag, path, tags=[tag, "fabc-it"],
                        properties={"build": "42"}, disk_format="raw")
    by_tag = [i.id for i in glance.images(tag=tag)]
    glance.add_tag(img.id, tag + "-extra")
    both = [i.id for i in glance.images(tag=[tag, tag + "-extra"])]
    by_prop = [i.id for i in glance.images(tag=tag,
                                           properties={"build": "42"})]
    no_prop = [i.id for i in glance.images(tag=tag,
                                           properties={"build": "43"})]
    glance.remove_tag(img.id, tag + "-extra")
    after_remove = [i.id for i in glance.images(tag=tag + "-extra")]
    glance.delete(img.id)
    err = None
    try:
        glance.delete(img.id)
    except CloudError as e:
        err = error_fields(e)
    result(id=img.id, status=img.status, size=img.size,
           size_file=os.path.getsize(path), tags=sorted(img.tags),
           props=img.properties.get("build"), by_tag=by_tag, both=both,
           by_prop=by_prop, no_prop=no_prop, after_remove=after_remove,
           gone=glance.get(img.id) is None, second_delete=err)


@task
def make_images(tag, count, path, extra=""):
    glance = openstack.connect().glance
    ids = []
    for i in range(int(count)):
        tags = [tag] + ([extra] if extra else [])
        ids.append(glance.upload("fabc-it-%s-%d" % (tag, i), path,
                                 tags=tags, disk_format="raw").id)
    result(ids=ids)


@task
def list_images(tag, limit=None):
    glance = openstack.connect().glance
    imgs = glance.images(tag=tag, limit=int(limit) if limit else None)
    result(ids=[i.id for i in imgs])


@task
def delete_images(tag):
    glance = openstack.connect().glance
    for i in glance.images(tag=tag):
        glance.delete(i.id)


@task
def http_checks(good, refused):
    single = http.get(good, expect=200)
    many = http.check_many([good, good + "/nope", refused], expect=200,
                           timeout=5)
    out = {}
    for url, r in many.items():
        if isinstance(r, Exception):
            out[url] = error_fields(r)
        else:
            out[url] = {"status": r.status}
    result(single=single.status, json_ok="version" in single.json(),
           many=out)


@task
def protected(tag, path):
    glance = openstack.connect().glance
    img = glance.upload("fabc-it-" + tag, path, tags=[tag],
                        disk_format="raw")
    glance.set_properties(img.id, {"protected": True, "stage": "tested"})
    got = glance.get(img.id)
    err = None
    try:
        glance.delete(img.id)
    except CloudError as e:
        err = error_fields(e)
    still = glance.get(img.id) is not None
    glance.set_properties(img.id, {"protected": False})
    glance.delete(img.id)
    result(error=err, still=still, stage=got.properties.get("stage"),
           protected=got.data.get("protected"),
           gone=glance.get(img.id) is None)


@task
def duplicate_id(tag, path):
    """Upload with a chosen id twice: the second is Glance's 409; then the
    id of a deleted image is still taken (Glance never reuses ids)."""
    import uuid
    glance = openstack.connect().glance
    wanted = str(uuid.uuid4())
    img = glance.upload("fabc-it-" + tag, path, tags=[tag],
                        disk_format="raw", image_id=wanted)
    errors = {}
    try:
        glance.upload("fabc-it-" + tag + "-2", path, tags=[tag],
                      disk_format="raw", image_id=wanted)
    except CloudError as e:
        errors["live"] = error_fields(e)
    same = [i.id for i in glance.images(tag=tag)]
    glance.delete(img.id)
    try:
        glance.upload("fabc-it-" + tag + "-3", path, tags=[tag],
                      disk_format="raw", image_id=wanted)
    except CloudError as e:
        errors["deleted"] = error_fields(e)
    result(id=img.id, wanted=wanted, status=img.status, same=same,
           left=[i.id for i in glance.images(tag=tag)], **errors)


@task
def http_many(base, n):
    import time as _t
    urls = ["%s/slow/%d" % (base, i) for i in range(int(n))]
    t0 = _t.monotonic()
    res = http.check_many(urls, expect=200, timeout=10)
    elapsed = _t.monotonic() - t0
    out = {}
    for what, kw in (("timeout", {"timeout": 0.3}),
                     ("status", {"expect": 200}),
                     ("redirect", {"expect": 200})):
        path = {"timeout": "/slow/x", "status": "/unavailable",
                "redirect": "/moved"}[what]
        try:
            r = http.get(base + path, **kw)
            out[what] = {"status": r.status, "body": r.body,
                         "header": r.headers.get("x-fabc-test")}
        except Exception as e:
            out[what] = error_fields(e)
    result(elapsed=elapsed, statuses=sorted({r.status for r in res.values()
                                             if hasattr(r, "status")}),
           bodies=len({r.body for r in res.values()}), **out)
