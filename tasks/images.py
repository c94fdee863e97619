"""Glance images of the deployment: list, upload, delete by tag.

    fabc images.list                     every image of the project
    fabc images.list:tag=v2              images carrying tag v2
    fabc images.upload:build.qcow2,name=app-v2,tags=v2;app
    fabc images.delete:oldtag            delete every image tagged oldtag
    fabc --dry-run images.delete:oldtag  only say which
    fabc images.build:v2                 build release v2 of the reference
                                         app and upload its image

Tags in task arguments are separated by ';'. `cloud=` picks a clouds.yaml
cloud; without it OS_* variables or OS_CLOUD are used, and when neither is
set, the cloud of config.yaml's images.env (the lab, in this repository).
images.delete refuses images that a stack of config.yaml's envs uses,
unless force=yes.
"""
import os

from fabc import task, env as fabc_env, puts, abort


def _connect(cloud):
    from fabc import openstack, config
    if cloud is None and not os.environ.get("OS_AUTH_URL") and \
            not os.environ.get("OS_CLOUD") and \
            (config.get("images") or {}).get("env"):
        from . import _deploy
        return _deploy.connect(_deploy.settings_for(config["images"]["env"]))
    return openstack.connect(cloud)


def _tags(text):
    if not text:
        return []
    return [t for t in str(text).split(";") if t]


def _line(image):
    return "%s  %-30s %-8s %s" % (image.id, image.name, image.status,
                                  ",".join(sorted(image.tags)))


@task
def list(tag=None, name=None, status=None, cloud=None):
    """List images (tag=a;b: every tag must match)."""
    images = _connect(cloud).glance.images(tag=_tags(tag) or None,
                                           name=name, status=status)
    for image in sorted(images, key=lambda i: (i.name or "", i.id)):
        puts(_line(image))
    puts("%d image%s" % (len(images), "" if len(images) == 1 else "s"))
    return [i.id for i in images]


@task
def upload(path, name=None, tags=None, disk_format="qcow2",
           container_format="bare", cloud=None):
    """Upload a file as a new image (tags=a;b)."""
    if not os.path.isfile(path):
        abort("no such file: %s" % path)
    name = name or os.path.basename(path)
    if fabc_env.dry_run:
        puts("[dry-run] would upload %s as image %s (tags %s)"
             % (path, name, ",".join(_tags(tags)) or "none"))
        return None
    image = _connect(cloud).glance.upload(name, path, tags=_tags(tags),
                                          disk_format=disk_format,
                                          container_format=container_format)
    puts("uploaded %s" % _line(image))
    return image.id


@task
def delete(tag, cloud=None, force=None):
    """Delete every image carrying `tag`, and nothing else."""
    if not tag:
        abort("images.delete needs a tag")
    conn = _connect(cloud)
    glance = conn.glance
    images = glance.images(tag=tag)
    if not images:
        puts("no image carries tag %s" % tag)
        return []
    in_use = {}
    if str(force).lower() not in ("1", "yes", "true", "on"):
        from . import _flow
        in_use = _flow.images_in_use(conn)
    busy = [i for i in images if i.id in in_use and tag in i.tags]
    if busy:
        abort("refusing to delete image%s in use: %s (force=yes deletes "
              "anyway)" % ("" if len(busy) == 1 else "s", "; ".join(
                  "%s %s used by stack %s" % (i.id, i.name, ", ".join(
                      in_use[i.id])) for i in busy)))
    deleted = []
    for image in sorted(images, key=lambda i: (i.name or "", i.id)):
        if tag not in image.tags:   # never trust a filter with a delete
            continue
        if fabc_env.dry_run:
            puts("[dry-run] would delete %s" % _line(image))
            continue
        glance.delete(image.id)
        deleted.append(image.id)
        puts("deleted %s" % _line(image))
    if not fabc_env.dry_run:
        puts("%d image%s deleted" % (len(deleted),
                                     "" if len(deleted) == 1 else "s"))
    return deleted


@task
def build(tag, broken=None, force=None):
    """Build release `tag` of the reference app and upload its image."""
    from . import _flow

    def yes(v):
        return str(v).lower() in ("1", "yes", "true", "on")
    return _flow.build(tag, broken=yes(broken), force=yes(force))
