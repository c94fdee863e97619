"""Deployment tasks."""
import builtins
from fabc import task, local, lcd, prefix, shell_env, settings, puts, env


@task
def ship(tag="latest"):
    """Ship a release."""
    puts("shipping %s" % tag)
    return tag


@task(default=True)
def full():
    """The module's default task."""
    return "full"


@task
def sh(cmd, timeout=None):
    """Run a local command and print its result."""
    r = local(cmd, capture=True,
              timeout=float(timeout) if timeout else None)
    puts("RC=%d OUT=%s ERR=%s" % (r.return_code, r.stdout, r.stderr))
    return {"rc": r.return_code, "out": r.stdout, "err": r.stderr}


@task
def contexts(where):
    """lcd, prefix and shell_env compose."""
    with lcd(where), prefix("export B=2"), shell_env(A="x y$HOME"):
        r = local('echo "$PWD|$A|$B"', capture=True)
    return str(r)


@task
def sleep(seconds="30"):
    """Sleep in a child process (for Ctrl-C tests)."""
    local("sleep %s" % seconds)


# counts how often this module is executed (the package imports it too)
builtins._fabc_deploy_loads = getattr(builtins, "_fabc_deploy_loads", 0) + 1


@task
def loads():
    """How many times this module was executed."""
    return builtins._fabc_deploy_loads


def helper():
    """Not a task."""
    return 1
