"""Emergency mode: fire and evacuation release every door, barrier and lift of a site; drills time the roll call."""


def init_app(app):
    """Load models and register the API and the desk page."""
    from portal.emergency import api, models  # noqa: F401
    from portal.emergency.queries import drills
    from portal.emergency.routes import bp
    from portal.reports.team import HOOKS

    HOOKS["drills"] = drills

    app.register_blueprint(bp)
