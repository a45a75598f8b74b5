"""Users, login, sessions and tokens."""


def init_app(app):
    """Load models, register the login pages."""
    from portal.accounts import models, sessions  # noqa: F401
    from portal.accounts.routes import bp

    app.register_blueprint(bp)
