"""`flask --app wsgi residents export-right`: who may export the roll with full phone numbers."""

import click

from portal.extensions import db
from portal.residents.operations import set_export_right
from portal.sites import queries
from portal.sites.commands import residents_cli


@residents_cli.command("export-right")
@click.argument("login")
@click.option("--revoke", is_flag=True, help="Take the right away.")
def export_right(login, revoke):
    """Let a manager export the residents' roll with full phone numbers (audited)."""
    user = queries.user_by_login(login)
    if user is None or not user.is_manager:
        raise click.ClickException(f"no manager {login!r}")
    set_export_right(None, user, not revoke)
    db.session.commit()
    click.echo(f"{user.login}: {'may not' if revoke else 'may'} export full phone numbers")
