"""The outbox worker: claim due messages, send them, record the outcome. It commits its own work.

Only committed rows are visible here, so a message is never sent for a request that rolled back.
Claiming is exclusive: PostgreSQL skips rows another worker has locked (FOR UPDATE SKIP LOCKED);
SQLite flips queued -> sending with a conditional UPDATE and keeps only the rows it changed.
A claim is a lease: if a worker dies mid-send, the row is picked up again once the lease expires.
"""

import logging
import random
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import and_, select, update

from portal.core.timeutil import utcnow
from portal.core.validators import mask_phone
from portal.extensions import db
from portal.notify.backends import get_backend
from portal.notify.models import Message
from portal.notify.operations import status_callback_url
from portal.notify.sms import GAVE_UP, INTERNAL, PASS_REVOKED, PermanentFailure, TransientFailure

log = logging.getLogger(__name__)
NO_SYNC = {"synchronize_session": False}


def _setting(name, default):
    return type(default)(current_app.config.get(name, default))


def _due(now):
    # "sending" rows whose lease ran out belong to a worker that died before recording the outcome.
    return and_(Message.status.in_(("queued", "sending")), Message.next_attempt_at <= now)


def claim(limit=20, now=None):
    """Mark up to `limit` due messages as ours (status sending) and commit; returns their ids."""
    now = now or utcnow()
    claimed = {
        "status": "sending",
        "attempts": Message.attempts + 1,
        "next_attempt_at": now + timedelta(seconds=_setting("SMS_LEASE_SECONDS", 300)),
    }
    order = (Message.next_attempt_at, Message.id)
    if db.session.get_bind().dialect.name == "postgresql":
        q = select(Message.id).where(_due(now)).order_by(*order).limit(limit).with_for_update(skip_locked=True)
        ids = list(db.session.scalars(q))
        if ids:
            db.session.execute(update(Message).where(Message.id.in_(ids)).values(**claimed), execution_options=NO_SYNC)
    else:
        ids = []
        due = select(Message.id, Message.status).where(_due(now)).order_by(*order).limit(limit)
        for _ in range(3):  # another worker may win every row we saw; look again rather than idle
            candidates = db.session.execute(due).all()
            for mid, seen in candidates:
                res = db.session.execute(
                    update(Message)
                    .where(Message.id == mid, Message.status == seen, Message.next_attempt_at <= now)
                    .values(**claimed),
                    execution_options=NO_SYNC,
                )
                if res.rowcount == 1:
                    ids.append(mid)
            if ids or not candidates:
                break
    db.session.commit()
    return ids


def backoff_seconds(attempts):
    """Capped exponential backoff with jitter, so a provider outage is not hammered in step."""
    base = _setting("SMS_RETRY_BASE_SECONDS", 30.0)
    cap = _setting("SMS_RETRY_MAX_SECONDS", 3600.0)
    return min(cap, base * 2 ** max(0, attempts - 1) * random.uniform(0.8, 1.2))


def send_one(msg, backend, now=None):
    """Send one claimed message and record the outcome (not committed); returns sent|retry|failed."""
    now = now or utcnow()
    msg.backend = backend.name
    if msg.pass_ is not None and msg.pass_.status == "revoked":
        # The worker may run long after the request (outage, retries): never send a revoked pass's link.
        msg.status, msg.error_code, msg.error = "failed", "pass_revoked", PASS_REVOKED
        return "failed"
    try:
        result = backend.send(msg.to, msg.body, status_callback=msg.callback_url or status_callback_url())
    except PermanentFailure as exc:
        log.warning("sms %s to=%s failed permanently code=%s", msg.id, mask_phone(msg.to), exc.code)
        msg.status, msg.error_code, msg.error = "failed", exc.code[:32], exc.message
        return "failed"
    except TransientFailure as exc:
        return _retry(msg, exc, now)
    except Exception:
        log.exception("sms %s: unexpected error while sending", msg.id)
        return _retry(msg, TransientFailure("internal", INTERNAL), now)
    msg.status, msg.provider_id, msg.sent_at = result.status, result.provider_id, now
    msg.error_code = msg.error = None
    return "sent"


def _retry(msg, exc, now):
    msg.error_code = exc.code[:32]
    if msg.attempts >= _setting("SMS_MAX_ATTEMPTS", 8):
        log.warning("sms %s gave up after %s attempts code=%s", msg.id, msg.attempts, exc.code)
        msg.status, msg.error = "failed", GAVE_UP
        return "failed"
    delay = backoff_seconds(msg.attempts)
    log.info("sms %s attempt %s failed code=%s; retry in %.0fs", msg.id, msg.attempts, exc.code, delay)
    msg.status, msg.error, msg.next_attempt_at = "queued", exc.message, now + timedelta(seconds=delay)
    return "retry"


def send_pending(limit=200, batch=20):
    """One pass over the outbox: send what is due, committing after each message; returns counts."""
    backend = get_backend(current_app)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    done = 0
    while done < limit:
        ids = claim(min(batch, limit - done))
        if not ids:
            break
        done += len(ids)
        for msg in db.session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id)).all():
            counts[send_one(msg, backend)] += 1
            db.session.commit()
    return counts


def outbox_job(app):
    """The sms_outbox job run by `flask --app wsgi worker run`."""
    send_pending()


notify_cli = AppGroup("notify", help="SMS outbox.")


@notify_cli.command("send-pending")
@click.option("--limit", default=200, show_default=True, help="At most this many messages.")
def send_pending_command(limit):
    """Send the messages that are due, once."""
    counts = send_pending(limit=limit)
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
