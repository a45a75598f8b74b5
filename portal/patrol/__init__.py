"""Patrol rounds: signed checkpoint stickers, routes and schedules, rounds walked offline, hazards, the report."""


def init_app(app):
    """Load the models, register the pages, the upload cap and the periodic jobs."""
    from portal.feedback import UPLOAD_ENDPOINTS
    from portal.patrol import models  # noqa: F401
    from portal.patrol.routes import bp

    app.register_blueprint(bp)
    # A hazard's photo is capped like a complaint's, by feedback's guard, before anything parses the body.
    UPLOAD_ENDPOINTS.add("api.add_hazard")
    register_jobs()


def register_jobs():
    """Every minute: make scheduled rounds and close overdue ones; hourly: drop hazard photos past retention."""
    from portal.core.jobs import job
    from portal.desk.hooks import committing
    from portal.patrol.operations import close_overdue, purge_hazard_photos, schedule_rounds

    def patrol_rounds():
        schedule_rounds()
        close_overdue()

    job("patrol.rounds", 60)(committing(patrol_rounds))
    job("patrol.photo_retention", 3600)(committing(purge_hazard_photos))
