"""Staff: managers add guards and managers, who enrol through a one-time link; disable, enable, reset."""


def init_app(app):
    """Load the models, register the pages and the API."""
    from portal.staff import models  # noqa: F401
    from portal.staff.routes import bp, enrol_bp

    app.register_blueprint(bp)
    app.register_blueprint(enrol_bp)
