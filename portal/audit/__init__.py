"""Audit trail."""


def init_app(app):
    """Load models."""
    from portal.audit import models  # noqa: F401
