"""The reference deployment's stack and image procedures for an env of
config.yaml: create with deploy and health check, the health-gated
rolling update, delete, and image builds. tasks/stack.py and
tasks/images.py call these when they are given env= (or a tag to build).
"""
import datetime
import os
import tarfile

from fabc import env as fenv, puts, abort, warn, confirm, config
from . import _deploy as d


def _cleanup(tmp):
    if tmp:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _gate(s, addrs, tag, what):
    """Deploy `tag` to addrs and wait until they serve it: {addr: reason}
    for the hosts that failed (empty when all are good)."""
    failed = {}
    res = d.deploy(s, addrs, tag)
    for a, v in res.items():
        if isinstance(v, BaseException):
            failed[a] = "deploy: %s: %s" % (type(v).__name__, v)
    good = [a for a in addrs if a not in failed]
    if good and not fenv.get("dry_run"):
        for a, why in d.wait_healthy(s, good, tag).items():
            if why:
                failed[a] = "health: %s" % why
    for a in addrs:
        puts("  %-16s %s %s" % (a, what, "FAILED (%s)" % failed[a]
                                if a in failed else "ok, serves %s" % tag),
             show_prefix=False)
    return failed


# ---- stack.create ------------------------------------------------------------

def create(envname, tag, timeout=None):
    s = d.settings_for(envname)
    cloud = d.connect(s)
    name = s["stack_name"]
    existing = cloud.heat.get(name)
    if existing is not None and not existing.status.startswith("DELETE_C"):
        abort("env %s: stack %s exists already (%s); use stack.update:"
              "env=%s,tag=... or stack.delete:%s" % (
                  envname, name, existing.status, envname, envname))
    image = d.image_for_tag(cloud, tag)
    params = d.stack_parameters(s, tag, {i: image.id
                                         for i in range(s["count"])})
    envs, tmp = d.environments(s)
    try:
        if fenv.get("dry_run"):
            prev = cloud.heat.preview(name, s["template"], environment=envs,
                                      parameters=params, update=False)
            res = (prev.get("stack") or {}).get("resources") or []
            puts("dry run: would create stack %s (%d top-level resources) "
                 "from %s with image %s (%s), %d servers, then deploy %s"
                 % (name, len(res), os.path.relpath(s["template"], d.ROOT),
                    image.name, image.id, s["count"], tag),
                 show_prefix=False)
            return {"stack": name, "dry_run": True}
        puts("creating stack %s: %d servers from image %s (%s)" % (
            name, s["count"], image.name, tag), show_prefix=False)
        stack = cloud.heat.create(name, s["template"], environment=envs,
                                  parameters=params,
                                  timeout=float(timeout or s["timeout"]),
                                  rollback=False)
    finally:
        _cleanup(tmp)
    if stack.status != "CREATE_COMPLETE":
        abort("stack %s: %s: %s" % (name, stack.status, stack.status_reason))
    _tag, addrs, _imgs = d.stack_state(stack)
    puts("deploying %s to %d servers: %s" % (tag, len(addrs),
                                             ", ".join(addrs)),
         show_prefix=False)
    failed = _gate(s, addrs, tag, "deploy")
    if failed:
        abort("stack %s created, but %d of %d servers failed: %s" % (
            name, len(failed), len(addrs),
            "; ".join("%s: %s" % kv for kv in sorted(failed.items()))))
    puts("stack %s: %d servers serve %s" % (name, len(addrs), tag),
         show_prefix=False)
    return {"stack": name, "tag": tag, "servers": addrs}


# ---- stack.update: the health-gated rolling update ----------------------------

def update(envname, tag, timeout=None):
    s = d.settings_for(envname)
    cloud = d.connect(s)
    name = s["stack_name"]
    stack = cloud.heat.get(name)
    if stack is None or stack.status.startswith("DELETE"):
        abort("env %s: there is no stack %s to update (stack.create:env=%s,"
              "tag=%s)" % (envname, name, envname, tag))
    old_tag, addrs, images = d.stack_state(stack)
    image = d.image_for_tag(cloud, tag)
    n = len(addrs)
    bs = s["batch_size"]
    batches = [list(range(i, min(i + bs, n))) for i in range(0, n, bs)]
    timeout = float(timeout or s["timeout"])
    if fenv.get("dry_run"):
        target = dict(images)
        for i in range(n):
            target[i] = image.id
        prev = cloud.heat.preview(
            name, existing=True, update=True,
            parameters={"node_images": {str(k): v for k, v in
                                        target.items()}, "tag": tag})
        ch = prev.get("resource_changes") or {}
        puts("dry run: stack %s from %s to %s (image %s), %d batches of "
             "up to %d; Heat preview: %s" % (
                 name, old_tag, tag, image.id, len(batches), bs,
                 ", ".join("%s %s" % (k, ",".join(
                     r.get("resource_name", "?") for r in v))
                     for k, v in sorted(ch.items()) if v) or "no changes"),
             show_prefix=False)
        for b, idxs in enumerate(batches):
            hs = [addrs[i] for i in idxs]
            puts("batch %d/%d: would PATCH node_images[%s] = %s, deploy %s "
                 "to %s and check %s" % (
                     b + 1, len(batches), ",".join(map(str, idxs)),
                     image.id, tag, ", ".join(hs),
                     ", ".join(d.health_url(s, a) for a in hs)),
                 show_prefix=False)
            d.deploy(s, hs, tag)
        return {"stack": name, "dry_run": True}
    puts("rolling update of %s: %s -> %s, %d servers in %d batches of up "
         "to %d" % (name, old_tag, tag, n, len(batches), bs),
         show_prefix=False)
    done = []
    for b, idxs in enumerate(batches):
        last = b == len(batches) - 1
        hs = [addrs[i] for i in idxs]
        puts("batch %d/%d: %s" % (b + 1, len(batches), ", ".join(hs)),
             show_prefix=False)
        before = dict(images)
        for i in idxs:
            images[i] = image.id
        st = cloud.heat.update(
            name, existing=True, rollback=True, timeout=timeout,
            parameters={"node_images": {str(k): v for k, v in
                                        images.items()},
                        "tag": tag if last else old_tag})
        if st.status != "UPDATE_COMPLETE":
            abort("batch %d: stack %s: %s: %s (servers %s still run %s)"
                  % (b + 1, name, st.status, st.status_reason,
                     ", ".join(a for a in addrs if a not in done), old_tag))
        failed = _gate(s, hs, tag, "update to %s" % tag)
        if failed:
            warn("batch %d/%d failed its health gate: %s; rolling it back "
                 "to %s" % (b + 1, len(batches), "; ".join(
                     "%s: %s" % kv for kv in sorted(failed.items())),
                     old_tag))
            images = before
            st = cloud.heat.update(
                name, existing=True, rollback=True, timeout=timeout,
                parameters={"node_images": {str(k): v for k, v in
                                            images.items()},
                            "tag": old_tag})
            back = _gate(s, hs, old_tag, "roll back to %s" % old_tag)
            rest = [a for a in addrs if a not in done]
            abort("rolling update of %s stopped at batch %d/%d: %s failed "
                  "the health gate of %s and %s; on %s now: %s%s" % (
                      name, b + 1, len(batches), ", ".join(sorted(failed)),
                      tag, "could not be rolled back (%s)" % "; ".join(
                          "%s: %s" % kv for kv in sorted(back.items()))
                      if back else "was rolled back to %s" % old_tag,
                      old_tag, ", ".join(rest),
                      "; on %s: %s" % (tag, ", ".join(done)) if done
                      else ""))
        done.extend(hs)
    puts("rolling update of %s done: %d servers serve %s" % (name, n, tag),
         show_prefix=False)
    return {"stack": name, "from": old_tag, "to": tag, "servers": addrs}


# ---- stack.delete ------------------------------------------------------------------

def delete(envname):
    s = d.settings_for(envname)
    name = s["stack_name"]
    if envname == "production" and not fenv.get("yes"):
        abort("refusing to delete production's stack %s without --yes"
              % name)
    if not fenv.get("yes") and not fenv.get("dry_run"):
        if not confirm("Delete stack %s of env %s and its servers?" % (
                name, envname), default=False):
            abort("stack %s not deleted: not confirmed (on no terminal, "
                  "give --yes)" % name)
    cloud = d.connect(s)
    stack = cloud.heat.get(name)
    if stack is None or stack.status == "DELETE_COMPLETE":
        puts("stack %s does not exist: nothing to delete" % name,
             show_prefix=False)
        return {"stack": name, "deleted": False}
    _tag, addrs, _ = d.stack_state(stack)
    if fenv.get("dry_run"):
        puts("dry run: would stop the app on %s and delete stack %s" % (
            ", ".join(addrs) or "no servers", name), show_prefix=False)
        return {"stack": name, "dry_run": True}
    if addrs:
        stopped = d.stop_app(s, addrs)
        for h, v in stopped.items():
            if isinstance(v, BaseException):
                warn("%s: could not stop the app: %s" % (h, v))
    cloud.heat.delete(name, timeout=float(s["timeout"]))
    puts("stack %s deleted" % name, show_prefix=False)
    return {"stack": name, "deleted": True}


# ---- images ------------------------------------------------------------------------

def build(tag, broken=False, force=False):
    """Build release `tag` (a tarball of the app) and put its image into
    Glance tagged with it (the lab's image is a small raw file)."""
    im = d.images_settings()
    s = d.settings_for(im.get("env", "lab"))
    src = d.path(im.get("source", "tasks/files/app"))
    os.makedirs(im["build_dir"], exist_ok=True)
    tarball = d.release_path(tag)
    imgfile = os.path.join(im["build_dir"], "%s.img" % tag)
    cloud = d.connect(s)
    existing = [i for i in cloud.glance.images(tag=tag)
                if i.properties.get("fabc_service") == im["service"]]
    if existing and not force:
        abort("an image tagged %r exists already (%s); images.delete:%s "
              "first, or images.build:%s,force=yes" % (
                  tag, ", ".join(i.id for i in existing), tag, tag))
    if fenv.get("dry_run"):
        puts("dry run: would build %s from %s and upload image %s-%s "
             "tagged %s" % (tarball, src, im["name_prefix"], tag, tag),
             show_prefix=False)
        return {"tag": tag, "dry_run": True}
    tmp = tarball + ".tmp"
    with tarfile.open(tmp, "w:gz") as tf:
        for fn in sorted(os.listdir(src)):
            if fn.startswith(".") or fn == "__pycache__":
                continue
            tf.add(os.path.join(src, fn), arcname=fn)
        for extra, text in (("VERSION", tag + "\n"),) + (
                (("BROKEN", "this release fails its health check\n"),)
                if broken else ()):
            p = os.path.join(im["build_dir"], ".%s.%s" % (tag, extra))
            with open(p, "w") as f:
                f.write(text)
            tf.add(p, arcname=extra)
            os.unlink(p)
    os.replace(tmp, tarball)
    with open(imgfile, "wb") as f:
        head = ("fabc-app image %s\n" % tag).encode()
        f.write(head + b"\0" * (int(im.get("size_kib", 64)) * 1024 -
                                len(head)))
    built = datetime.datetime.now(datetime.timezone.utc).isoformat()
    img = cloud.glance.upload(
        "%s-%s" % (im["name_prefix"], tag), imgfile,
        tags=[tag, im["service"]], disk_format=im["disk_format"],
        container_format=im["container_format"],
        properties={"fabc_service": im["service"], "fabc_release": tag,
                    "fabc_built": built,
                    "fabc_broken": "yes" if broken else "no"})
    puts("built release %s (%s) and image %s (%s) tagged %s" % (
        tag, os.path.relpath(tarball, d.ROOT), img.name, img.id, tag),
        show_prefix=False)
    return {"tag": tag, "image": img.id, "release": tarball}


def images_in_use(cloud):
    """{image id: [stack names]} for the stacks of every env of
    config.yaml that this cloud has."""
    used = {}
    for envname in config.envs():
        try:
            s = d.settings_for(envname)
        except Exception:  # a broken env entry must not hide the others
            continue
        st = cloud.heat.get(s["stack_name"])
        if st is None or st.status.startswith("DELETE"):
            continue
        for img in (st.outputs.get("server_images") or []):
            names = used.setdefault(img, [])
            if s["stack_name"] not in names:
                names.append(s["stack_name"])
    return used
