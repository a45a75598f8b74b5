"""Communities, buildings, units and gates."""


def init_app(app):
    """Load models."""
    from portal.sites import models  # noqa: F401
    from portal.sites.commands import residents_cli, sites_cli

    app.cli.add_command(sites_cli)
    app.cli.add_command(residents_cli)
