"""upload_template() and friends (Fabric 1's contrib.files)."""
import io
import os

import _fabc
from .state import env


def upload_template(template, remote, context=None, *, mode=None,
                    use_sudo=False, template_dir=None, backup=False,
                    undefined="strict"):
    """Render a Jinja2-syntax template file with `context` and upload the
    result to `remote` on env.host_string (mode, use_sudo as put()).
    With backup=True an existing remote file is kept as remote + '.bak'.
    With --dry-run nothing is uploaded; the rendered text is shown.
    Returns the remote path(s) put() returns."""
    from .remote import put, run, sudo
    path = template
    if template_dir:
        path = os.path.join(template_dir, template)
    text = _fabc.render_file(os.path.expanduser(path), context or {},
                             undefined=undefined)
    if env.get("dry_run"):
        from .state import emit
        emit("[%s] would upload %s rendered from %s:\n%s\n" % (
            env.get("host_string"), remote, template, text))
        return [remote]
    if backup:
        cmd = sudo if use_sudo else run
        cmd('if [ -f "%s" ]; then cp -p "%s" "%s.bak"; fi' % (
            remote, remote, remote), quiet=True)
    return put(io.BytesIO(text.encode("utf-8")), remote, mode=mode,
               use_sudo=use_sudo)


def exists(path, use_sudo=False):
    """True if `path` exists on the current host."""
    from .remote import run, sudo
    cmd = sudo if use_sudo else run
    return cmd('test -e "$(echo %s)"' % path, quiet=True,
               warn_only=True).succeeded


def contains(filename, text, exact=False, use_sudo=False):
    """True if the remote file holds `text` (a line, if exact)."""
    from .remote import run, sudo
    from .operations import sh_quote
    cmd = sudo if use_sudo else run
    flag = "-Fx" if exact else "-F"
    return cmd("grep -q %s -- %s %s" % (flag, sh_quote(text),
                                        sh_quote(filename)),
               quiet=True, warn_only=True).succeeded


def append(filename, text, use_sudo=False):
    """Append lines of `text` that the file doesn't hold yet."""
    from .remote import run, sudo
    from .operations import sh_quote
    cmd = sudo if use_sudo else run
    lines = text if isinstance(text, (list, tuple)) else [text]
    for line in lines:
        if not contains(filename, line, exact=True, use_sudo=use_sudo):
            cmd("echo %s >> %s" % (sh_quote(line), sh_quote(filename)),
                quiet=True)


