"""`flask --app wsgi worker run`: the background jobs (outbox, surveys, retention)."""

import click
from flask import current_app
from flask.cli import AppGroup

worker = AppGroup("worker", help="Background jobs: SMS outbox, surveys, retention.")


@worker.command("run")
@click.option("--once", is_flag=True, help="Run every job once and exit.")
@click.option("--only", multiple=True, help="Run only these jobs.")
def run(once, only):
    """Run the registered jobs."""
    from portal.core import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy method; Flask types current_app as Flask
    if once:
        jobs.run_once(app, only=only or None)
    else:
        click.echo(f"worker: jobs {', '.join(sorted(jobs.JOBS))}")
        jobs.run_forever(app, only=only or None)


@worker.command("list")
def list_jobs():
    """List the registered jobs."""
    from portal.core import jobs

    for name, (_, every) in sorted(jobs.JOBS.items()):
        click.echo(f"{name}\tevery {every}s")
