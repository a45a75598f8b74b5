"""Device registry."""


def init_app(app):
    """Load models and register the device pages."""
    from portal.devices import models  # noqa: F401
    from portal.devices.routes import bp

    app.register_blueprint(bp)
