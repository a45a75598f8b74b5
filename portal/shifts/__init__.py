"""Shifts beyond the desk's start/end: guards' posts, offers to the nearest guard, the searchable handovers."""


def init_app(app):
    """Load the models, register the pages and the job that widens offers."""
    from portal.shifts import models  # noqa: F401
    from portal.shifts.jobs import register
    from portal.shifts.routes import bp

    app.register_blueprint(bp)
    register()
