from fabc import task


@task
def fine():
    return 1
