"""The one access-event table: every attempt at every gate, door, lift and terminal."""


def init_app(app):
    """Load models."""
    from portal.events import models  # noqa: F401
