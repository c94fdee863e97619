"""Database tasks (a nested package)."""
from fabc import task


@task
def backup():
    """Back up the database."""
    return "backup"
