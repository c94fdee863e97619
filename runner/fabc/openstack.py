"""fabc.openstack — Keystone, Heat and Glance from tasks.

    from fabc import openstack
    cloud = openstack.connect()              # OS_* variables or clouds.yaml
    stack = cloud.heat.create("web", "heat/stack.yaml",
                              parameters={"tag": "v2"})
    print(stack.status, stack.outputs)
    for image in cloud.glance.images(tag="v1"):
        cloud.glance.delete(image.id)

Every call is native C (runner/keystone.c, heat.c, glance.c over libcurl);
the GIL is released while requests and waits run. Failures raise
fabc.CloudError (status, method, url, request_id and the service's own
message), fabc.AuthError for rejected credentials, fabc.ConfigError for
missing or broken settings, fabc.TimeoutError / fabc.ConnectionError when
a service cannot be reached. See docs/openstack.md.
"""
import json
import os

import _fabc
from .state import output

__all__ = ["connect", "Cloud", "Heat", "Glance", "Stack", "Image"]


def _env_paths(environment):
    if environment is None:
        return []
    if isinstance(environment, (str, os.PathLike)):
        return [os.fspath(environment)]
    return [os.fspath(p) for p in environment]


def _template_args(template, args):
    """Put a template (path, YAML/JSON text, or dict) into args."""
    if template is None:
        return
    if isinstance(template, dict):
        args["template_text"] = json.dumps(template)
    elif isinstance(template, os.PathLike):
        args["template"] = os.fspath(template)
    elif isinstance(template, str) and ("\n" in template
                                        or template.lstrip().startswith("{")):
        args["template_text"] = template
    elif isinstance(template, str):
        args["template"] = template
    else:
        raise TypeError("template must be a path, YAML text or a dict, not %s"
                        % type(template).__name__)


def _tags_text(tags):
    if tags is None:
        return None
    if isinstance(tags, str):
        return tags
    return ",".join(tags)


def _seconds(timeout):
    if timeout is None:
        return 0
    return int(timeout + 0.999)


class Stack(object):
    """One Heat stack as Heat last described it."""

    __slots__ = ("_heat", "_data")

    def __init__(self, heat, data):
        self._heat = heat
        self._data = data or {}

    id = property(lambda self: self._data.get("id"))
    name = property(lambda self: self._data.get("stack_name"))
    status = property(lambda self: self._data.get("stack_status"))
    status_reason = property(
        lambda self: self._data.get("stack_status_reason"))
    parameters = property(lambda self: dict(self._data.get("parameters")
                                            or {}))
    tags = property(lambda self: list(self._data.get("tags") or []))
    data = property(lambda self: self._data,
                    doc="the stack JSON as Heat returned it")

    @property
    def outputs(self):
        """{output_key: value}; an output Heat could not resolve maps to
        None (its error is in .output_errors)."""
        return {o.get("output_key"): o.get("output_value")
                for o in self._data.get("outputs") or []}

    @property
    def output_errors(self):
        return {o.get("output_key"): o["output_error"]
                for o in self._data.get("outputs") or []
                if "output_error" in o}

    def events(self):
        """The stack's events, oldest first (list of dicts)."""
        return self._heat._call("heat.events", name=self._ref())

    def resources(self):
        """The stack's resources (list of dicts)."""
        return self._heat._call("heat.resources", name=self._ref())

    def refresh(self):
        fresh = self._heat.get(self._ref())
        if fresh is not None:
            self._data = fresh._data
        return self

    def _ref(self):
        if self.name and self.id:
            return "stacks/%s/%s" % (self.name, self.id)
        return self.name or self.id

    def __repr__(self):
        return "<Stack %s %s %s>" % (self.name, self.id, self.status)


class Image(object):
    """One Glance image: id, name, tags, status, properties, size."""

    _FIXED = frozenset((
        "id", "name", "tags", "status", "size", "checksum", "container_format",
        "disk_format", "created_at", "updated_at", "visibility", "protected",
        "owner", "min_disk", "min_ram", "file", "schema", "self",
        "virtual_size", "os_hash_algo", "os_hash_value", "os_hidden",
        "direct_url", "locations", "stores"))

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data

    id = property(lambda self: self.data.get("id"))
    name = property(lambda self: self.data.get("name"))
    tags = property(lambda self: list(self.data.get("tags") or []))
    status = property(lambda self: self.data.get("status"))
    size = property(lambda self: self.data.get("size"))
    checksum = property(lambda self: self.data.get("checksum"))

    @property
    def properties(self):
        """The image's own properties (everything that is not a standard
        Glance field)."""
        return {k: v for k, v in self.data.items() if k not in self._FIXED}

    def __eq__(self, other):
        return isinstance(other, Image) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return "<Image %s %r %s %s>" % (self.id, self.name, self.status,
                                        self.tags)


class _Service(object):
    def __init__(self, cloud):
        self._cloud = cloud

    def _call(self, op, **args):
        text = self._cloud._conn.call(op, json.dumps(
            {k: v for k, v in args.items() if v is not None}))
        return None if text is None else json.loads(text)


class Heat(_Service):
    """Heat v1 (orchestration). Timeouts are in seconds (sent to Heat as
    whole minutes); `rollback=None` on update keeps the stack's setting."""

    def create(self, name, template, *, environment=None, parameters=None,
               tags=None, timeout=None, rollback=False, wait=True,
               quiet=None):
        args = dict(name=name, environment=_env_paths(environment),
                    parameters=parameters or {}, tags=_tags_text(tags),
                    timeout=_seconds(timeout), rollback=int(bool(rollback)),
                    wait=bool(wait), quiet=self._quiet(quiet))
        _template_args(template, args)
        return Stack(self, self._call("heat.create", **args))

    def update(self, name, template=None, *, existing=False, parameters=None,
               environment=None, rollback=True, wait=True, timeout=None,
               clear_parameters=None, quiet=None):
        if template is None and not existing:
            existing = True
        args = dict(name=name, environment=_env_paths(environment),
                    parameters=parameters or {}, existing=bool(existing),
                    rollback=-1 if rollback is None else int(bool(rollback)),
                    wait=bool(wait), timeout=_seconds(timeout),
                    clear_parameters=list(clear_parameters or []) or None,
                    quiet=self._quiet(quiet))
        _template_args(template, args)
        return Stack(self, self._call("heat.update", **args))

    def delete(self, name, *, wait=True, timeout=None, quiet=None):
        """Delete the stack (and wait). Returns True, or False when there
        was no such stack (not an error)."""
        return bool(self._call("heat.delete", name=name, wait=bool(wait),
                               timeout=_seconds(timeout),
                               quiet=self._quiet(quiet)))

    def get(self, name):
        """The stack, or None when there is none of that name (or id)."""
        data = self._call("heat.get", name=name)
        return None if data is None else Stack(self, data)

    def preview(self, name, template=None, *, environment=None,
                parameters=None, update=None, existing=False, tags=None):
        """What create or update would do, changing nothing (--dry-run).

        update=None decides by whether the stack exists. A create preview
        returns {"stack": {... "resources": [...]}}; an update preview
        returns {"resource_changes": {"added", "deleted", "replaced",
        "unchanged", "updated"}}."""
        if update is None:
            update = self.get(name) is not None
        if template is None and update:
            existing = True
        args = dict(name=name, environment=_env_paths(environment),
                    parameters=parameters or {}, update=bool(update),
                    existing=bool(existing), tags=_tags_text(tags))
        _template_args(template, args)
        return self._call("heat.preview", **args)

    def validate(self, template, *, environment=None, parameters=None):
        """Heat's validation of a template: {"Parameters", "Description",
        ...}; an invalid template raises CloudError with Heat's message."""
        args = dict(environment=_env_paths(environment),
                    parameters=parameters)
        _template_args(template, args)
        return self._call("heat.validate", **args)

    def events(self, name):
        return self._call("heat.events", name=name)

    def resources(self, name):
        return self._call("heat.resources", name=name)

    def signal(self, name, resource, data=None):
        """Signal a resource, e.g. data={"unset_hook": "pre-update"}."""
        self._call("heat.signal", name=name, resource=resource,
                   data=data or {})

    def clear_hook(self, name, resource, hook="pre-update"):
        """Clear a paused hook on one resource (nested: "nodes/0" style
        names are passed as given)."""
        self.signal(name, resource, {"unset_hook": hook})

    @staticmethod
    def _quiet(quiet):
        if quiet is not None:
            return bool(quiet)
        try:
            return not output.status
        except (AttributeError, KeyError):
            return False


class Glance(_Service):
    """Glance v2 (images)."""

    def images(self, *, tag=None, name=None, status=None, properties=None,
               limit=None):
        """Images with every tag in `tag` (a str or a list; server-side),
        `name`, `status` (server-side) and `properties` (client-side).
        Follows pagination; `limit` is the page size."""
        tags = [] if tag is None else ([tag] if isinstance(tag, str)
                                       else list(tag))
        data = self._call("glance.list", tags_list=tags, filter_name=name,
                          status=status, properties=properties,
                          limit=limit)
        return [Image(d) for d in data]

    def get(self, image_id):
        data = self._call("glance.get", id=image_id)
        return None if data is None else Image(data)

    def upload(self, name, path, *, tags=(), properties=None,
               disk_format="qcow2", container_format="bare",
               visibility="private", image_id=None):
        """Create the image and stream the file; returns the Image.
        `image_id` picks the new image's id (a UUID), as `openstack image
        create --id` does; an id in use, or used before, is a 409."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(2, "no such file", path)
        data = self._call("glance.upload", image_name=name, path=path,
                          tags_list=list(tags or ()),
                          properties=properties or None,
                          disk_format=disk_format,
                          container_format=container_format,
                          visibility=visibility,
                          id=None if image_id is None else str(image_id))
        return Image(data)

    def delete(self, image_id):
        self._call("glance.delete", id=_id(image_id))

    def add_tag(self, image_id, tag):
        self._call("glance.add_tag", id=_id(image_id), tag=tag)

    def remove_tag(self, image_id, tag):
        self._call("glance.remove_tag", id=_id(image_id), tag=tag)

    def set_properties(self, image_id, properties):
        return Image(self._call("glance.set_properties", id=_id(image_id),
                                properties=properties))


def _id(image):
    return image.id if isinstance(image, Image) else image


class Cloud(object):
    """An authenticated connection: .heat, .glance, .project_id,
    .region, .auth_token (secret), .source."""

    def __init__(self, conn):
        self._conn = conn
        self.heat = Heat(self)
        self.glance = Glance(self)

    project_id = property(lambda self: self._conn.project_id)
    project_name = property(lambda self: self._conn.project_name)
    region = property(lambda self: self._conn.region)
    source = property(lambda self: self._conn.source)

    @property
    def auth_token(self):
        """The current token. A secret: never print or log it."""
        return self._conn.auth_token

    def endpoint(self, service_type):
        """The catalog URL of a service type ("orchestration", "image")."""
        text = self._conn.call("endpoint", json.dumps({"type":
                                                       service_type}))
        return json.loads(text)

    def reauthenticate(self):
        self._conn.reauth()

    def __repr__(self):
        return "<Cloud project=%s from %s>" % (self.project_name,
                                                self.source)


def connect(cloud=None):
    """Authenticate and return a Cloud.

    Credentials: OS_* variables (an openrc) when OS_AUTH_URL is set and no
    cloud is named; else clouds.yaml (OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
    ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml, with
    secure.yaml overlaid) and the cloud `cloud` or OS_CLOUD."""
    try:
        _fabc.cloud_set_debug(bool(output.debug))
    except (AttributeError, KeyError):
        pass
    return Cloud(_fabc.cloud_connect(cloud))
