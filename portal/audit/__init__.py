"""Audit trail."""


def init_app(app):
    """Load models; register the managers' audit log pages."""
    from portal.audit import models  # noqa: F401
    from portal.audit.routes import bp

    app.register_blueprint(bp)
