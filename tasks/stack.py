"""The deployment's Heat stack: create, update, delete, show.

    fabc stack.create:env=staging,tag=v2
    fabc stack.update:env=staging,tag=v3
    fabc --dry-run stack.update:env=staging,tag=v3     (Heat preview only)
    fabc stack.show:env=staging
    fabc stack.delete:env=staging

With env=, the reference deployment's procedures run (tasks/_flow.py:
create with deploy and health checks, the health-gated rolling update,
delete; settings from config.yaml's stacks.<env>). Without env= these
tasks manage a plain stack, with settings from the task arguments and,
when given `settings=<name>`, from `config.env(name)`, with these keys,
all optional:

    stack_name:  the Heat stack name        (default fabc-<env>)
    template:    HOT template, relative to the project root
                 (default heat/test-stack.yaml)
    environment: list of Heat environment files (relative to the root)
    parameters:  {name: value} passed to Heat
    timeout:     seconds for create/update (default 1800)
    cloud:       clouds.yaml cloud name (default: OS_* or OS_CLOUD)

Task arguments override them: name=, template=, tag= (the `tag`
parameter), timeout=, and any other key=value becomes a Heat parameter.
Without env= or settings= the stack is `fabc-test` from
heat/test-stack.yaml.
"""
import os

from fabc import task, env as fabc_env, config, puts, abort, warn
from fabc import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TEMPLATE = os.path.join("heat", "test-stack.yaml")


def _root_path(p):
    return p if os.path.isabs(p) else os.path.join(ROOT, p)


def _flows():
    from . import _flow
    return _flow


def _settings(env, name=None, template=None, tag=None, timeout=None,
              params=None):
    s = {}
    if env:
        try:
            s = dict(config.env(env))
        except ConfigError as e:
            if isinstance(config.get("stacks"), dict):
                abort(str(e))       # a typo in env= must not go unnoticed
            warn("no stacks in the config (%s): defaults for %s"
                 % (e, env))
    out = {
        "name": name or str(s.get("stack_name") or "").format(env=env) or
        ("fabc-%s" % env if env else "fabc-test"),
        "template": _root_path(template or s.get("template") or
                               DEFAULT_TEMPLATE),
        "environment": [_root_path(p) for p in s.get("environment") or []],
        "parameters": dict(s.get("parameters") or {}),
        "timeout": float(timeout or s.get("timeout") or 1800),
        "cloud": s.get("cloud"),
        "clouds_yaml": s.get("clouds_yaml"),
    }
    if tag is not None:
        out["parameters"]["tag"] = tag
    out["parameters"].update(params or {})
    return out


def _connect(s):
    from fabc import openstack
    if s.get("clouds_yaml"):
        os.environ["OS_CLIENT_CONFIG_FILE"] = _root_path(s["clouds_yaml"])
    return openstack.connect(s["cloud"])


def _show_outputs(stack):
    for key, value in sorted(stack.outputs.items()):
        puts("  %s: %s" % (key, value))
    for key, why in sorted(stack.output_errors.items()):
        warn("output %s: %s" % (key, why))


def _show_preview(result):
    changes = result.get("resource_changes")
    if changes is not None:
        for kind in ("added", "replaced", "updated", "deleted", "unchanged"):
            for r in changes.get(kind) or []:
                puts("  %-9s %s (%s)" % (kind, r.get("resource_name"),
                                         r.get("resource_type")))
        return
    for r in (result.get("stack") or {}).get("resources") or []:
        if isinstance(r, list):   # nested stack previews are lists
            for rr in r:
                puts("  add       %s (%s)" % (rr.get("resource_name"),
                                              rr.get("resource_type")))
        else:
            puts("  add       %s (%s)" % (r.get("resource_name"),
                                          r.get("resource_type")))


@task
def create(env=None, name=None, template=None, tag=None, timeout=None,
           settings=None, **params):
    """Create the stack and wait for it (--dry-run: Heat preview)."""
    if env and not (name or template or settings or params):
        return _flows().create(env, tag, timeout)
    s = _settings(settings or env, name, template, tag, timeout, params)
    cloud = _connect(s)
    if fabc_env.dry_run:
        puts("[dry-run] would create stack %s from %s"
             % (s["name"], os.path.relpath(s["template"], ROOT)))
        _show_preview(cloud.heat.preview(
            s["name"], s["template"], environment=s["environment"],
            parameters=s["parameters"], update=False))
        return None
    stack = cloud.heat.create(s["name"], s["template"],
                              environment=s["environment"],
                              parameters=s["parameters"],
                              timeout=s["timeout"])
    puts("stack %s %s" % (stack.name, stack.status))
    _show_outputs(stack)
    return stack.outputs


@task
def update(env=None, name=None, template=None, tag=None, timeout=None,
           existing=None, rollback="yes", settings=None, **params):
    """Update the stack (existing=yes keeps its template; --dry-run:
    preview of the changes)."""
    if env and not (name or template or settings or params or existing):
        return _flows().update(env, tag, timeout)
    s = _settings(settings or env, name, template, tag, timeout, params)
    keep = str(existing).lower() in ("1", "yes", "true") or (
        existing is None and template is None and not (settings or env))
    cloud = _connect(s)
    tmpl = None if keep else s["template"]
    if fabc_env.dry_run:
        puts("[dry-run] would update stack %s" % s["name"])
        _show_preview(cloud.heat.preview(
            s["name"], tmpl, environment=s["environment"],
            parameters=s["parameters"], update=True, existing=keep))
        return None
    stack = cloud.heat.update(s["name"], tmpl, existing=keep,
                              environment=s["environment"],
                              parameters=s["parameters"],
                              rollback=str(rollback).lower() in
                              ("1", "yes", "true", "on"),
                              timeout=s["timeout"])
    puts("stack %s %s" % (stack.name, stack.status))
    _show_outputs(stack)
    return stack.outputs


@task
def delete(env=None, name=None, settings=None):
    """Delete the stack and wait until it is gone."""
    if env and not (name or settings):
        return _flows().delete(env)
    s = _settings(settings or env, name)
    cloud = _connect(s)
    if fabc_env.dry_run:
        stack = cloud.heat.get(s["name"])
        if stack is None:
            puts("stack %s does not exist" % s["name"])
        else:
            puts("[dry-run] would delete stack %s (%s)" % (stack.name,
                                                           stack.id))
        return
    if cloud.heat.delete(s["name"]):
        puts("stack %s deleted" % s["name"])
    else:
        puts("stack %s does not exist" % s["name"])


@task
def show(env=None, name=None, settings=None):
    """Status, outputs and resources of the stack."""
    s = _settings(settings or env, name)
    cloud = _connect(s)
    stack = cloud.heat.get(s["name"])
    if stack is None:
        abort("stack %s does not exist" % s["name"])
    puts("stack %s %s %s" % (stack.name, stack.id, stack.status))
    if stack.status_reason:
        puts("  reason: %s" % stack.status_reason)
    puts("outputs:")
    _show_outputs(stack)
    puts("resources:")
    for r in sorted(stack.resources(), key=lambda r: r["resource_name"]):
        puts("  %s %s %s" % (r["resource_name"], r["resource_type"],
                             r["resource_status"]))
    return stack.outputs
