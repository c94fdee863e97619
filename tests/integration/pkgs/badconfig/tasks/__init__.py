from fabc import task


@task
def noop():
    """Do nothing."""
