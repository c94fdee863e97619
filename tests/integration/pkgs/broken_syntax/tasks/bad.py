from fabc import task


@task
def oops(:
    pass
