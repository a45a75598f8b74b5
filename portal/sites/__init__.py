"""Communities, buildings, units and gates."""


def init_app(app):
    """Load models."""
    from portal.sites import models  # noqa: F401
