"""The reference deployment's procedures (top-level tasks).

    fabc update:env=staging,tag=v3      tests.fast, rolling update, tests.fast
    fabc rollback:env=staging,tag=v2    the same, back to an older tag
"""
from fabc import task, puts
from . import stack, tests


def _procedure(verb, env, tag):
    puts("== %s %s to %s: checking the current version" % (verb, env, tag),
         show_prefix=False)
    tests.fast(env)
    puts("== %s %s to %s: rolling update" % (verb, env, tag),
         show_prefix=False)
    stack.update(env=env, tag=tag)
    puts("== %s %s to %s: checking the new version" % (verb, env, tag),
         show_prefix=False)
    tests.fast(env)
    puts("== %s %s: done, every server serves %s" % (verb, env, tag),
         show_prefix=False)
    return tag


@task
def update(env, tag):
    """The update procedure: tests.fast, stack.update, tests.fast."""
    return _procedure("update", env, tag)


@task
def rollback(env, tag):
    """Return to an older tag the same way as update."""
    return _procedure("rollback", env, tag)
