"""Communities, buildings, units and gates."""


def init_app(app):
    """Load models, register the roll import page and the commands."""
    from portal.sites import models  # noqa: F401
    from portal.sites.commands import residents_cli, sites_cli
    from portal.sites.console import bp as console_bp
    from portal.sites.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(console_bp)

    app.cli.add_command(sites_cli)
    app.cli.add_command(residents_cli)
