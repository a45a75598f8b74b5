"""Residents' cars: a household's registered plates, granted at the barrier (the API module is imported by portal.api)."""


def init_app(app):
    """Load the model and add the pages."""
    from portal.vehicles import models  # noqa: F401
    from portal.vehicles.routes import bp

    app.register_blueprint(bp)
