"""Device registry."""


def init_app(app):
    """Load models."""
    from portal.devices import models  # noqa: F401
