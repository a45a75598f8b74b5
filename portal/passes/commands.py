"""`flask --app wsgi keys …`: list, rotate and retire a community's signing keys."""

import click
from flask.cli import AppGroup

from portal.extensions import db
from portal.passes import operations
from portal.passes.models import SigningKey
from portal.sites.commands import cli_site

keys_cli = AppGroup("keys", help="Signing keys of pass QR codes.")


@keys_cli.command("list")
@click.option("--site", "slug", required=True)
def list_keys(slug):
    """Show key ids and their status."""
    for row in db.session.scalars(db.select(SigningKey).where(SigningKey.site_id == cli_site(slug).id).order_by(SigningKey.id)):
        click.echo(f"{row.id}\t{row.status}\t{row.created_at:%Y-%m-%d %H:%M}")


@keys_cli.command("rotate")
@click.option("--site", "slug", required=True)
def rotate_key(slug):
    """Start signing with a new key; older keys keep verifying until retired."""
    row = operations.rotate_keys(cli_site(slug))
    db.session.commit()
    click.echo(f"new key {row.id} signs for {slug}")


@keys_cli.command("retire")
@click.argument("kid", type=int)
def retire_key(kid):
    """Stop accepting passes signed with a key."""
    if operations.retire_key(kid) is None:
        raise click.ClickException(f"no key {kid}")
    db.session.commit()
    click.echo(f"key {kid} retired")
