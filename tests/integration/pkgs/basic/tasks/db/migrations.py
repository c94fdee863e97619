from fabc import task


@task
def run(step="all"):
    """Run migrations.

    More text that --list does not show."""
    return step
