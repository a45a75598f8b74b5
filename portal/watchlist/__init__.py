"""The deny list: persons (by ID number or phone) and plates."""


def init_app(app):
    """Load models."""
    from portal.watchlist import models  # noqa: F401
