"""SMS notifications through an outbox."""


def init_app(app):
    """Load models and the worker command."""
    from portal.notify import models  # noqa: F401
