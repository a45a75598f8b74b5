"""Walk-ins and item movements: the desk registers them, the host approves from the phone, or they time out."""


def init_app(app):
    """Load models, register the desk's and the host's pages and the timeout job."""
    from portal.core.jobs import job
    from portal.desk.hooks import committing
    from portal.walkins import models  # noqa: F401
    from portal.walkins.operations import expire_pending
    from portal.walkins.routes.resident import bp as host_bp
    from portal.walkins.routes.staff import bp

    app.register_blueprint(bp)
    app.register_blueprint(host_bp)
    job("desk.approvals_timeout", 30)(committing(expire_pending))
