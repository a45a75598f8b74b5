"""The demo CLI command."""

import json

import click
from flask.cli import with_appcontext

from portal.extensions import db


@click.command("demo")
@with_appcontext
def demo():
    """Load demo data (idempotent); the last line printed is JSON with logins and tokens."""
    from portal.demo.data import load

    out = load()
    db.session.commit()
    click.echo("Demo community ready. Staff log in with password plus the TOTP code from totp_secret.")
    click.echo(json.dumps(out, ensure_ascii=False))
