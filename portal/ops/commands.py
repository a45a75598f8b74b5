"""`flask --app wsgi backup FILE`, `restore FILE`, and `keys status | rotate-data-key | drop-data-key`."""

import json

import click
from flask import current_app
from flask.cli import AppGroup

from portal.extensions import db
from portal.ops import backup as backups
from portal.ops import keys as keyring


@click.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False))
def backup_command(dest):
    """Write a consistent backup of the database to DEST while the portal keeps running."""
    try:
        path = backups.backup(
            current_app.config["SQLALCHEMY_DATABASE_URI"], dest, current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS")
        )
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"backup": str(path), "bytes": path.stat().st_size}))


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
def restore_command(source):
    """Load a backup into the configured database, which must be new and empty."""
    try:
        backups.restore(db.engine, source, current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS"))
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"restored": str(source)}))


def add_key_commands(cli):
    """Put the data key commands beside the signing key commands in `flask keys` (portal.passes.commands)."""
    group = cli.commands.get("keys")
    if group is None:
        group = AppGroup("keys", help="Signing keys and the data key ring.")
        cli.add_command(group)
    for command in (status, rotate_data_key, drop_data_key):
        group.add_command(command)


@click.command("status")
def status():
    """How many stored values each key encrypts; the current key and the keys in the ring."""
    from portal.core import crypto

    counts = keyring.usage()
    click.echo(
        json.dumps(
            {
                "current": crypto.current_key_id(),
                "ring": crypto.key_ids(),
                "values_per_key": {str(k): counts[k] for k in sorted(counts)},
            }
        )
    )


@click.command("rotate-data-key")
@click.option("--batch-size", default=500, show_default=True, help="Rows re-encrypted per committed batch.")
@click.option("--max-batches", type=int, default=None, help="Stop after this many batches (resume by running again).")
def rotate_data_key(batch_size, max_batches):
    """Re-encrypt every value made with an older key under the current one; safe to stop and run again."""
    result = keyring.rotate(batch_size=batch_size, max_batches=max_batches)
    click.echo(
        json.dumps(
            {"rewritten": result.rewritten, "batches": result.batches, "finished": result.finished, "by_column": result.by_column}
        )
    )


@click.command("drop-data-key")
@click.argument("key_id", type=int)
def drop_data_key(key_id):
    """Check that KEY_ID encrypts nothing any more, then say how to take it out of DATA_OLD_KEYS."""
    ok, why = keyring.can_drop(key_id)
    if not ok:
        raise click.ClickException(why)
    advice = f"key {key_id} encrypts nothing: remove it from DATA_OLD_KEYS"
    if key_id == 1 and not current_app.config.get("DATA_INDEX_KEY"):
        advice += " after setting DATA_INDEX_KEY to its value (blind indexes and device card numbers keep key 1)"
    click.echo(advice)
