"""Periodic background jobs run by `flask --app wsgi worker run` (outbox, surveys, retention)."""

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
JOBS: dict[str, tuple[Callable, float]] = {}


def job(name, every_seconds):
    """Register fn(app) to run every N seconds in the worker; it must commit its own work."""

    def deco(fn):
        JOBS[name] = (fn, every_seconds)
        return fn

    return deco


def run_forever(app, only=None, stop=None, tick=0.5):
    """Run registered jobs on their schedule until stop() returns True."""
    last: dict[str, float] = {}
    from portal.extensions import db

    while not (stop and stop()):
        now = time.monotonic()
        for name, (fn, every) in list(JOBS.items()):
            if only and name not in only:
                continue
            if now - last.get(name, 0) < every:
                continue
            last[name] = now
            with app.app_context():
                try:
                    fn(app)
                except Exception:
                    db.session.rollback()
                    log.exception("job %s failed", name)
                finally:
                    db.session.remove()
        time.sleep(tick)


def run_once(app, only=None):
    """Run every job once (tests and `worker run --once`)."""
    from portal.extensions import db

    for name, (fn, _) in list(JOBS.items()):
        if only and name not in only:
            continue
        with app.app_context():
            try:
                fn(app)
            finally:
                db.session.remove()
