"""Flask-Migrate for `flask db …`, with Alembic loaded only when a migration command runs."""

import click
from flask import g
from flask.cli import with_appcontext

from portal import config as config_module
from portal.extensions import db


def bind(app) -> None:
    """Bind Flask-Migrate to app now: its `db` commands, and what upgrade() in a script or test reads."""
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(config_module.BASE_DIR / "migrations"), render_as_batch=True, compare_type=True)


def _options(directory, x_arg) -> None:
    """What Flask-Migrate's own group does with its options: Migrate.get_config() reads them from g."""
    g.directory = directory
    g.x_arg = x_arg


class LazyCommands(click.Group):
    """`flask db`, standing in for Flask-Migrate's group (same options) until one of its commands is asked for.

    Importing Alembic (with Mako and Pygments) is about 85 ms of a process's start, and the bridge and the
    other commands never migrate.
    """

    def __init__(self, app) -> None:
        super().__init__(
            "db",
            help="Perform database migrations.",
            callback=with_appcontext(_options),
            params=[
                click.Option(["-d", "--directory"], default=None, help='Migration script directory (default is "migrations")'),
                click.Option(["-x", "--x-arg"], multiple=True, help="Additional arguments consumed by custom env.py scripts"),
            ],
        )
        self.app = app

    def _commands(self) -> click.Group:
        from flask_migrate.cli import db as commands

        if "migrate" not in self.app.extensions:
            bind(self.app)
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._commands().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._commands().get_command(ctx, cmd_name)
