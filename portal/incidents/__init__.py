"""Incidents: guards and managers log what they see; timeline, photos, people, escalation up the chain."""

UPLOAD_ENDPOINTS = {"api.create_incident", "api.add_incident_photos", "incidents.new", "incidents.add_photos"}


def init_app(app):
    """Load the models, register the pages and the escalation job; photo uploads get the complaints' size guard."""
    from portal import feedback
    from portal.incidents import models  # noqa: F401
    from portal.incidents.jobs import register
    from portal.incidents.routes import bp

    app.register_blueprint(bp)
    # One guard for every photo upload: feedback's before_request caps these endpoints' bodies too.
    feedback.UPLOAD_ENDPOINTS.update(UPLOAD_ENDPOINTS)
    register()
