"""`config`: config.yaml as plain dicts and lists, with env layering.

    from fabc import config
    config["images"]            # the file's top level is a dict
    config.env("staging")       # stacks.common deep-merged with
                                # stacks.staging, --set overrides on top
"""
import _fabc


def deep_merge(base, over):
    """A new dict: `over` merged into `base`, recursively for dicts;
    lists and scalars in `over` replace."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = _copy(v)
    return out


def _copy(v):
    """Deep copy of plain YAML data (dict, list, scalars)."""
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


class Config(dict):
    """The loaded config file (a dict), plus .env(name) and .path."""

    path = None
    overrides = ()  # [(dotted key, value)] from --set

    def env(self, name):
        """stacks.common deep-merged with stacks.<name>; raises
        ConfigError naming the valid names when there is no such env."""
        stacks = self.get("stacks")
        where = self.path or "config"
        if not isinstance(stacks, dict):
            raise _fabc.ConfigError(
                "%s: no 'stacks' mapping, so there is no env %r"
                % (where, name))
        valid = sorted(k for k in stacks if k != "common")
        if name == "common" or name not in stacks:
            raise _fabc.ConfigError(
                "%s: unknown env %r (valid: %s)"
                % (where, name, ", ".join(map(str, valid)) or "none"))
        common = stacks.get("common") or {}
        mine = stacks.get(name) or {}
        if not isinstance(common, dict) or not isinstance(mine, dict):
            raise _fabc.ConfigError(
                "%s: stacks.common and stacks.%s must be mappings"
                % (where, name))
        merged = deep_merge(common, mine)
        merged.setdefault("name", name)
        for key, value in self.overrides:
            _set_dotted(merged, key, value)
        return merged

    def envs(self):
        """The env names defined under stacks (without common)."""
        stacks = self.get("stacks") or {}
        return sorted(k for k in stacks if k != "common")


def _set_dotted(d, key, value):
    parts = key.split(".")
    for p in parts[:-1]:
        nxt = d.get(p)
        if not isinstance(nxt, dict):
            nxt = d[p] = {}
        d = nxt
    d[parts[-1]] = value


def scalar(text):
    """A --set value as YAML would read it ('3' -> 3, 'true' -> True)."""
    if text is None:
        return True
    loads = getattr(_fabc, "config_loads", None)
    if loads is None:
        return text
    try:
        v = loads(text, name="--set")
    except _fabc.ConfigError:
        return text
    return v if not isinstance(v, (dict, list)) else text


config = Config()


def load(path, overrides=()):
    """Load `path` into the module-level `config` (in place)."""
    data = _fabc.config_load(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fabc.ConfigError("%s: the top level must be a mapping, not "
                                "a %s" % (path, type(data).__name__))
    config.clear()
    config.update(data)
    config.path = path
    config.overrides = [(k, scalar(v)) for k, v in overrides]
    return config
