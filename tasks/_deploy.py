"""The reference deployment's machinery, shared by tasks/stack.py,
tasks/tests.py, tasks/images.py and the top-level tasks.

A module whose name starts with '_' holds no tasks: fabc does not scan
it. Everything here reads config.yaml through config.env(name) (see
docs/config.md and docs/tasks.md).
"""
import json
import os
import tempfile
import time

from fabc import (config, env, execute, parallel, puts, abort, run,
                  put, upload_template, settings, hide, http, openstack)

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
APP_FILES = os.path.join(ROOT, "tasks", "files", "app")


def path(p):
    """A config path (relative to the project root) made absolute."""
    if p is None:
        return None
    p = os.path.expanduser(str(p))
    return p if os.path.isabs(p) else os.path.join(ROOT, p)


# ---- settings ---------------------------------------------------------------

def settings_for(envname):
    """config.env(envname) with names formatted and paths resolved."""
    s = config.env(envname)
    s["env"] = envname
    s["stack_name"] = str(s.get("stack_name", "fabc-app-{env}")).format(
        env=envname)
    s["template"] = path(s["template"])
    s["environment"] = [path(p) for p in s.get("environment") or []]
    s["count"] = int(s.get("count", 2))
    s["batch_size"] = max(1, int(s.get("batch_size", 1)))
    return s


def images_settings():
    im = dict(config.get("images") or {})
    im.setdefault("build_dir", "build/releases")
    im.setdefault("name_prefix", "fabc-app")
    im.setdefault("service", "app")
    im.setdefault("disk_format", "raw")
    im.setdefault("container_format", "bare")
    im["build_dir"] = path(im["build_dir"])
    return im


def release_path(tag):
    return os.path.join(images_settings()["build_dir"], "%s.tar.gz" % tag)


# ---- cloud ---------------------------------------------------------------------

def connect(s):
    """Authenticate for environment settings s (clouds.yaml entry)."""
    cy = path(s.get("clouds_yaml"))
    if cy:
        if not os.path.isfile(cy):
            abort("env %s: clouds.yaml %s does not exist (is the lab up? "
                  "make lab)" % (s["env"], cy))
        os.environ["OS_CLIENT_CONFIG_FILE"] = cy
    return openstack.connect(s.get("cloud"))


def image_for_tag(cloud, tag):
    """The one active image of our service carrying `tag`."""
    im = images_settings()
    found = [i for i in cloud.glance.images(tag=tag, status="active")
             if i.properties.get("fabc_service") == im["service"]]
    if not found:
        abort("no active %s image tagged %r in Glance (build one: fabc "
              "images.build:%s)" % (im["service"], tag, tag))
    found.sort(key=lambda i: i.properties.get("fabc_built", ""))
    return found[-1]


def lab_env_file(s):
    """For the lab: a Heat environment giving each port name its lab host
    address (parameter_defaults lab_hosts). None on a real cloud."""
    first = s.get("lab_first_host")
    if first is None:
        return None
    n = max(s["count"], 1) * 2 + 8
    hosts = {"%s-port-%d" % (s["stack_name"], i):
             "127.0.0.%d" % (int(first) + i) for i in range(n)}
    f = tempfile.NamedTemporaryFile("w", prefix="fabc-lab-env-",
                                    suffix=".yaml", delete=False)
    with f:
        json.dump({"parameter_defaults": {"lab_hosts": hosts}}, f)
    return f.name


def environments(s):
    envs = list(s["environment"])
    extra = lab_env_file(s)
    if extra:
        envs.append(extra)
    return envs, extra


def stack_parameters(s, tag, images):
    """Heat parameters: images is {index: image id} for every member."""
    return {"tag": tag, "count": s["count"],
            "node_images": {str(k): v for k, v in images.items()},
            "flavor": s.get("flavor", "m1.small"),
            "network": s.get("network", "private"),
            "key_name": s.get("key_name") or "",
            "app_port": int(s["app"]["port"])}


def stack_state(stack):
    """(tag, [addresses], {index: image}) of a running stack."""
    out = stack.outputs
    addrs = out.get("server_addresses") or []
    imgs = out.get("server_images") or []
    return out.get("tag"), list(addrs), {i: img for i, img in
                                         enumerate(imgs)}


# ---- hosts ------------------------------------------------------------------------

def ssh_env(s):
    """env overrides that make SSH reach this environment's servers."""
    sh = s.get("ssh") or {}
    over = {"user": sh.get("user") or env.user,
            "port": str(sh.get("port") or 22)}
    if sh.get("config"):
        over["ssh_config_path"] = path(sh["config"])
        over["use_ssh_config"] = True
    if sh.get("known_hosts"):
        over["known_hosts"] = path(sh["known_hosts"])
    if sh.get("identity"):
        over["key_filename"] = [path(sh["identity"])]
    return over


def host_strings(s, addrs):
    sh = s.get("ssh") or {}
    user, port = sh.get("user") or env.user, int(sh.get("port") or 22)
    out = []
    for a in addrs:
        h = "[%s]" % a if ":" in a else a
        out.append("%s@%s:%d" % (user, h, port) if port != 22
                   else "%s@%s" % (user, h))
    return out


def app_dir(s, addr):
    d = str(s["app"]["dir"]).format(host=addr)
    # login-relative: SFTP and the shell both start in the home directory
    return d[2:] if d.startswith("~/") else d


def health_url(s, addr):
    h = "[%s]" % addr if ":" in addr else addr
    return "http://%s:%d%s" % (h, int(s["app"]["port"]),
                               s["app"].get("health_path", "/health"))


# ---- deploy ------------------------------------------------------------------------

@parallel
def _deploy_host(s, tag):
    """Upload release `tag`, render its config, (re)start the app."""
    addr = env.host
    tarball = release_path(tag)
    d = app_dir(s, addr)
    absdir = run("mkdir -p %s/releases && cd %s && pwd" % (d, d),
                 quiet=True).stdout.strip()
    put(tarball, "%s/releases/%s.tar.gz" % (absdir, tag))
    run("cd %s/releases && rm -rf %s && mkdir %s && tar xzf %s.tar.gz -C %s"
        " && ln -sfn releases/%s ../current.new && mv -T ../current.new "
        "../current" % (absdir, tag, tag, tag, tag, tag), quiet=True)
    upload_template(os.path.join(APP_FILES, "app.json.j2"),
                    "%s/app.json" % absdir,
                    {"name": s["stack_name"], "listen": addr,
                     "port": int(s["app"]["port"]), "version": tag,
                     "health_path": s["app"].get("health_path", "/health"),
                     "greeting": s["app"].get("greeting", "hello from"),
                     "app_dir": absdir})
    run("sh %s/current/appctl.sh %s start" % (absdir, absdir), quiet=True)
    return tag


def deploy(s, addrs, tag):
    """Deploy release `tag` to every address at once; {addr: tag or
    exception}."""
    if not os.path.isfile(release_path(tag)):
        abort("no release for tag %r at %s (fabc images.build:%s makes it)"
              % (tag, release_path(tag), tag))
    hosts = host_strings(s, addrs)
    if env.get("dry_run"):
        for h in hosts:
            puts("[%s] would deploy release %s (upload %s, render "
                 "app.json, appctl.sh start)" % (h, tag, release_path(tag)))
        return {a: tag for a in addrs}
    with settings(hide("status", "running"), **ssh_env(s)):
        res = execute(_deploy_host, s, tag, hosts=hosts)
    return {addrs[hosts.index(h)]: v for h, v in res.items()}


def check_health(s, addrs, tag=None):
    """One concurrent round of /health checks: {addr: (ok, status,
    version, ms, why)}."""
    urls = {health_url(s, a): a for a in addrs}
    res = http.check_many(list(urls), expect=0, timeout=5)
    out = {}
    for url, r in res.items():
        a = urls[url]
        if isinstance(r, BaseException):
            out[a] = (False, None, None, None, str(r))
            continue
        version = None
        try:
            version = r.json().get("version")
        except (ValueError, AttributeError):
            pass
        ok = r.status == 200 and (tag is None or version == tag)
        why = "" if ok else (
            "HTTP %d" % r.status if r.status != 200 else
            "version %s, want %s" % (version, tag))
        out[a] = (ok, r.status, version, r.elapsed * 1000.0, why)
    return out


def wait_healthy(s, addrs, tag):
    """Poll /health until every address serves `tag`, or the configured
    timeout: {addr: None (healthy) or the reason it is not}."""
    h = s.get("health") or {}
    deadline = time.monotonic() + float(h.get("timeout", 30))
    interval = float(h.get("interval", 0.5))
    pending = list(addrs)
    why = {}
    while True:
        res = check_health(s, pending, tag)
        for a, (ok, _st, _v, _ms, reason) in res.items():
            if ok:
                why[a] = None
            else:
                why[a] = reason
        pending = [a for a in pending if why.get(a)]
        if not pending or time.monotonic() >= deadline:
            return why
        time.sleep(interval)


def stop_app(s, addrs):
    """Stop the app on every address (stack.delete)."""
    hosts = host_strings(s, addrs)

    @parallel
    def _stop():
        d = app_dir(s, env.host)
        run("if [ -x %s/current/appctl.sh ] || [ -f %s/current/appctl.sh ];"
            " then sh %s/current/appctl.sh %s stop; fi" % (d, d, d, d),
            quiet=True, warn_only=True)
    with settings(hide("running", "status"), **ssh_env(s)):
        return execute(_stop, hosts=hosts)


def failed(results):
    return {h: v for h, v in results.items() if isinstance(v, BaseException)}
