"""The desk's look-up: one search box over visitors, passes, plates, units and hosts; today's expected visitors."""


def init_app(app):
    """Add the pages (the API module is imported by portal.api)."""
    from portal.lookup.routes import bp

    app.register_blueprint(bp)
