"""Visitor passes: issuing, the visitor's page, QR and keypad codes."""


def init_app(app):
    """Load models, register the visitor's pages and the resident's pages."""
    from portal.core.timeutil import zone
    from portal.passes import models, retention  # noqa: F401
    from portal.passes.resident import bp as resident_bp
    from portal.passes.routes import bp

    app.jinja_env.globals["tz"] = zone
    from portal.passes.commands import keys_cli

    app.register_blueprint(bp)
    app.register_blueprint(resident_bp)
    app.cli.add_command(keys_cli)
