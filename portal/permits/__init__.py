"""Renovation and contractor permits, and freight vehicles approved for a window (API: portal.permits.api)."""


def init_app(app):
    """Load the models and add the pages."""
    from portal.core.validators import mask_id
    from portal.permits import models  # noqa: F401
    from portal.permits.labels import STATUS_LABELS
    from portal.permits.routes import bp

    app.jinja_env.globals.update(status_labels=STATUS_LABELS, mask_id=mask_id)
    app.register_blueprint(bp)
