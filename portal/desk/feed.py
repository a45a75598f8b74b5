"""Announcing committed access events to the desk's live feed, across processes (docs/desk-stream.md).

Writers announce only the ids of the events they committed: on Redis pub/sub (REDIS_URL set), by PostgreSQL
NOTIFY (PostgreSQL without Redis), or, on SQLite (make run), by waking this process's hub (portal.desk.hub),
which reads them. So a gate decision pays a few bytes per event whether or not a desk is watching.
"""

import hashlib
import json

from flask import current_app, has_app_context
from sqlalchemy import text

from portal.extensions import db

REPLAY_LIMIT = 2000
# Ids per NOTIFY payload: 600 ids of up to 12 digits stay under the server's 8000-byte limit.
NOTIFY_IDS = 600
# The hub reads announced events at most this often, and a stream writes at most this often: one read and
# one write per quarter second instead of one per commit, however busy the gates (docs/desk-stream.md).
FLUSH_SECONDS = 0.25
# Stream entries that carry an alarm (sent as "event: alarm" frames, without an id: Last-Event-ID stays an event id).
ALARM = "alarm"


def encode(item):
    """An event payload as the stream and the poll send it (compact, UTF-8)."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def mode_for(app):
    """redis | postgres | local, from DESK_FEED or what is configured."""
    forced = app.config.get("DESK_FEED", "auto")
    if forced and forced != "auto":
        return forced
    if app.config.get("REDIS_URL"):
        return "redis"
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        return "postgres"
    return "local"


def channel(app):
    """Channel name; one per database and schema, so apps sharing a server never mix."""
    if app.config.get("DESK_CHANNEL"):
        return app.config["DESK_CHANNEL"]
    opts = (app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}).get("connect_args", {}).get("options", "")
    tag = hashlib.sha256(f"{app.config['SQLALCHEMY_DATABASE_URI']}|{opts}".encode()).hexdigest()[:12]
    return f"desk_events_{tag}"


_tz_cache = {}


def site_tz(site_id):
    """A site's time zone name (cached; it does not change under a running desk)."""
    if site_id not in _tz_cache:
        from portal.sites.models import Site

        site = db.session.get(Site, site_id) if site_id else None
        _tz_cache[site_id] = site.timezone if site is not None else "Asia/Shanghai"
    return _tz_cache[site_id]


def payloads(events):
    """Board payloads for events."""
    from portal.desk.serialize import event_payload

    return [event_payload(ev, site_tz(ev.site_id)) for ev in events]


def notify_before_commit(session):
    """PostgreSQL: NOTIFY the transaction's new event ids right before COMMIT.

    NOTIFY is transactional: listeners hear it only if and when the transaction commits, and then
    the rows are there to read. Ids travel as JSON arrays of up to NOTIFY_IDS, all sent in one
    statement: a batch of the event journal costs one round trip.
    """
    from portal.events.operations import NEW_EVENTS

    ids = session.info.get(NEW_EVENTS)
    if not ids or not has_app_context():
        return
    app = current_app._get_current_object()
    if mode_for(app) != "postgres":
        return
    chunks = [json.dumps(ids[n : n + NOTIFY_IDS], separators=(",", ":")) for n in range(0, len(ids), NOTIFY_IDS)]
    calls = ", ".join(f"pg_notify(:c, :p{n})" for n in range(len(chunks)))
    session.connection().execute(
        text(f"SELECT {calls}"),
        {"c": channel(app), **{f"p{n}": chunk for n, chunk in enumerate(chunks)}},
    )


_redis_clients = {}


def publish(app, message):
    """Publish one announcement on the app's Redis channel."""
    import redis

    url = app.config["REDIS_URL"]
    client = _redis_clients.get(url) or _redis_clients.setdefault(url, redis.Redis.from_url(url))
    client.publish(channel(app), message)


def after_commit_publish(ids):
    """events.after_commit listener: publish the committed ids (Redis), or wake this process's hub to read them (local)."""
    if not has_app_context():
        return
    app = current_app._get_current_object()
    mode = mode_for(app)
    if mode == "redis":
        publish(app, json.dumps(list(ids), separators=(",", ":")))
    elif mode == "local":
        # The hub's thread reads them (at most every FLUSH_SECONDS), not the committing thread: that is
        # often a request thread that the gate is waiting for.
        hub = app.extensions.get("desk_hub")
        if hub is not None:
            hub.wake.set()
