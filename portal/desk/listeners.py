"""How a desk hub hears announced events: Redis pub/sub, PostgreSQL LISTEN, or polling the table (SQLite)."""

import json
import time
from datetime import timedelta

from portal.extensions import db

# Redis messages read into one delivery at most.
DRAIN = 100
ALARM_POLL_MARGIN = timedelta(seconds=2)
# SQLite has no NOTIFY: the hub reads what other processes committed this often (an alarm must reach a board within 1 s).
POLL_SECONDS = 0.25


def _parse(raw, ids, alarms):
    """One announcement: a JSON array of access-event ids, or {"alarms": [ids]} (portal.alarms.feed)."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return
    if isinstance(message, list):
        ids.extend(message)
    elif isinstance(message, dict):
        alarms.extend(i for i in message.get("alarms", ()) if type(i) is int)


def run_redis(hub):
    """Listen on the hub's Redis channel until the hub has no stream or poll left to serve."""
    import redis

    conn = redis.Redis.from_url(hub.app.config["REDIS_URL"])
    ps = conn.pubsub()
    try:
        ps.subscribe(hub.channel)
        while True:
            msg = ps.get_message(timeout=1.0)
            if msg and msg["type"] == "subscribe":
                break
        hub.ready.set()
        while hub.keep_running():
            ids, alarms, msg = [], [], ps.get_message(timeout=0.5)
            if msg is not None:
                # What arrives meanwhile goes into the same read (bounded, so streams never starve).
                until = time.monotonic() + hub.pause()
                for _ in range(DRAIN):
                    if msg is None:
                        left = until - time.monotonic()
                        if left <= 0 or (msg := ps.get_message(timeout=left)) is None:
                            break
                    if msg["type"] == "message":
                        _parse(msg["data"], ids, alarms)
                    msg = ps.get_message(timeout=0)
            if ids or alarms:
                hub.last_read = time.monotonic()
                hub.deliver(ids)
                hub.deliver_alarms(alarms)
    finally:
        ps.close()
        conn.close()


def run_pg(hub):
    """LISTEN on the hub's PostgreSQL channel until the hub has no stream or poll left to serve."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    url = make_url(hub.app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(hub.channel)))
        hub.ready.set()
        while hub.keep_running():
            ids, alarms = [], []
            for note in conn.notifies(timeout=0.5, stop_after=1):
                _parse(note.payload, ids, alarms)
            if ids or alarms:
                # What arrives meanwhile goes into the same read (timeout=0 polls once).
                pause = hub.pause()
                for note in [*(conn.notifies(timeout=pause) if pause else ()), *conn.notifies(timeout=0)]:
                    _parse(note.payload, ids, alarms)
                hub.last_read = time.monotonic()
                hub.deliver(ids)
                hub.deliver_alarms(alarms)


def run_poll(hub):
    """SQLite: read new events and changed alarms from the tables, woken by this process's commits."""
    from portal.alarms.queries import changed_since
    from portal.core.timeutil import utcnow
    from portal.events.models import AccessEvent

    with hub.app.app_context():
        high = db.session.scalar(db.select(db.func.max(AccessEvent.id))) or 0
        db.session.remove()
    alarms_since = utcnow()
    hub.ready.set()
    while hub.keep_running():
        # Woken by this process's commits (after_commit_publish), else every POLL_SECONDS for others' (bridge, CLI).
        hub.wake.wait(POLL_SECONDS)
        time.sleep(hub.pause())
        hub.wake.clear()
        hub.last_read = time.monotonic()
        with hub.app.app_context():
            try:
                ids = db.session.scalars(
                    db.select(AccessEvent.id).where(AccessEvent.id > high).order_by(AccessEvent.id).limit(500)
                ).all()
                # Alarms written by other processes (the bridge, the CLI); a margin for late commits, the
                # board shows an alarm's latest state however often it arrives.
                polled_at = utcnow()
                alarms = changed_since(alarms_since - ALARM_POLL_MARGIN)
                alarms_since = polled_at
            finally:
                db.session.remove()
        if ids:
            high = ids[-1]
            hub.deliver(ids)
        hub.deliver_alarms(alarms)
