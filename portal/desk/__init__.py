"""The security desk: live board, exceptions, shifts, remote open, watchlist pages, roll call (walk-ins: portal.walkins)."""


def init_app(app):
    """Load models, register pages, event hooks, the live feed and the desk's jobs."""
    import os

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from portal.desk import models  # noqa: F401
    from portal.desk.feed import after_commit_publish, notify_before_commit
    from portal.desk.hooks import exception_from_event, register_jobs
    from portal.desk.hooks import install as install_exception_counting
    from portal.desk.routes import bp
    from portal.events.operations import after_commit, on_event
    from portal.watchlist.routes import bp as watchlist_bp

    # auto | redis | postgres | local: how the live feed fans out between worker processes.
    app.config.setdefault("DESK_FEED", os.environ.get("DESK_FEED", "auto"))
    app.register_blueprint(bp)
    app.register_blueprint(watchlist_bp)
    on_event(exception_from_event)
    install_exception_counting()
    after_commit(after_commit_publish)
    if not event.contains(Session, "before_commit", notify_before_commit):
        event.listen(Session, "before_commit", notify_before_commit)
    register_jobs()
