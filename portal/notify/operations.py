"""Queueing messages and recording what the provider tells us; the worker sends after the request's commit."""

from flask import current_app, has_app_context, has_request_context, request

from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.notify.models import Message
from portal.notify.sms import DELIVERY_CODES, NOT_DELIVERED

STATUS_CALLBACK_PATH = "/api/v1/sms/twilio/status"
# How far along a message is; a provider report never moves a message backwards.
RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}
# Twilio's MessageStatus words -> ours (None: nothing to record).
TWILIO_STATUS = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


def status_callback_url():
    """Public URL of the delivery-status callback, or None when no host is known."""
    base = current_app.config.get("PUBLIC_BASE_URL") if has_app_context() else None
    if base:
        return base.rstrip("/") + STATUS_CALLBACK_PATH
    if has_request_context():
        return request.host_url.rstrip("/") + STATUS_CALLBACK_PATH
    return None


def queue_sms(to, body, purpose, pass_id=None, site_id=None):
    """Add an SMS to the outbox in the current transaction."""
    msg = Message(
        channel="sms",
        to=to,
        body=body,
        purpose=purpose,
        pass_id=pass_id,
        site_id=site_id,
        status="queued",
        next_attempt_at=utcnow(),
        backend=current_app.config["SMS_BACKEND"] if has_app_context() else None,
        callback_url=status_callback_url(),
    )
    db.session.add(msg)
    return msg


def queue_sms_many(messages, purpose, site_id=None):
    """Add many SMS [(to, body)] to the outbox in one statement (a whole roll's activation links)."""
    if not messages:
        return
    now = utcnow()
    backend = current_app.config["SMS_BACKEND"] if has_app_context() else None
    callback = status_callback_url()
    rows = [
        {
            "channel": "sms",
            "to": to,
            "body": body,
            "purpose": purpose,
            "site_id": site_id,
            "status": "queued",
            "next_attempt_at": now,
            "backend": backend,
            "callback_url": callback,
        }
        for to, body in messages
    ]
    db.session.execute(db.insert(Message), rows)


def latest_for_pass(pass_id):
    """Messages sent for a pass, newest first."""
    q = db.select(Message).where(Message.pass_id == pass_id).order_by(Message.id.desc())
    return db.session.scalars(q).all()


def find_by_provider_id(provider_id):
    """The message the provider knows by this id, or None."""
    if not provider_id:
        return None
    return db.session.scalars(db.select(Message).where(Message.provider_id == provider_id)).first()


def apply_provider_status(msg, provider_status, error_code=None, now=None):
    """Record a delivery report; returns True when the message changed (regressions are ignored)."""
    ours = TWILIO_STATUS.get((provider_status or "").lower())
    if ours is None or RANK[ours] <= RANK.get(msg.status, 0):
        return False
    msg.status = ours
    now = now or utcnow()
    if ours == "delivered":
        msg.delivered_at = now
        msg.error_code = msg.error = None
    elif ours in ("undelivered", "failed"):
        code = _int(error_code)
        msg.error_code = str(error_code)[:32] if error_code else ours
        msg.error = DELIVERY_CODES.get(code, NOT_DELIVERED)
    elif ours == "sent" and msg.sent_at is None:
        msg.sent_at = now
    return True


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
