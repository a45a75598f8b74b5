"""Queueing messages; the worker sends them after the request's commit."""
from flask import current_app, has_app_context

from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.notify.models import Message


def queue_sms(to, body, purpose, pass_id=None, site_id=None):
    """Add an SMS to the outbox in the current transaction."""
    msg = Message(channel="sms", to=to, body=body, purpose=purpose, pass_id=pass_id, site_id=site_id,
                  status="queued", next_attempt_at=utcnow(),
                  backend=current_app.config["SMS_BACKEND"] if has_app_context() else None)
    db.session.add(msg)
    return msg


def latest_for_pass(pass_id):
    """Messages sent for a pass, newest first."""
    q = db.select(Message).where(Message.pass_id == pass_id).order_by(Message.id.desc())
    return db.session.scalars(q).all()
