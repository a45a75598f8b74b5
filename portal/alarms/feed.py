"""Announcing alarms to the desk's live feed (portal.desk.feed): the same channel as access events.

An announcement is a JSON object {"alarms": [ids]} where access events travel as a JSON array of ids, so
one listener per process serves both; on PostgreSQL it is a NOTIFY inside the writing transaction
(heard only if it commits), on Redis a publish after the commit, on SQLite a wake-up of this process's hub
(other processes' alarms are found by the hub's poll).
"""

import json
import logging

from flask import current_app, has_app_context
from sqlalchemy import text

log = logging.getLogger(__name__)
PENDING = "desk_alarms"


def announce(session, alarm):
    """Note an alarm written in this transaction, for the board."""
    session.info.setdefault(PENDING, set()).add(alarm.id)


def _message(ids):
    return json.dumps({"alarms": sorted(ids)}, separators=(",", ":"))


def before_commit(session):
    """PostgreSQL: NOTIFY the alarm ids with the commit."""
    from portal.desk.feed import channel, mode_for

    ids = session.info.get(PENDING)
    if not ids or not has_app_context():
        return
    app = current_app._get_current_object()
    if mode_for(app) == "postgres":
        session.info.pop(PENDING, None)
        session.connection().execute(text("SELECT pg_notify(:c, :p)"), {"c": channel(app), "p": _message(ids)})


def after_commit(session):
    """Redis: publish the committed alarm ids; SQLite: wake this process's hub."""
    from portal.desk import feed as desk_feed

    ids = session.info.pop(PENDING, None)
    if not ids or not has_app_context():
        return
    app = current_app._get_current_object()
    try:
        mode = desk_feed.mode_for(app)
        if mode == "redis":
            desk_feed.publish(app, _message(ids))
        elif mode == "local":
            hub = app.extensions.get("desk_hub")
            if hub is not None:
                hub.wake.set()
    except Exception:  # the board also reads alarms when it (re)connects; a failed announcement loses nothing
        log.exception("alarm announcement failed")


def forget(session, previous_transaction=None):
    """A rolled-back alarm was never raised."""
    session.info.pop(PENDING, None)
