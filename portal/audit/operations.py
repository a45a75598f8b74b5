"""Writing audit entries, inside the caller's transaction."""

from flask import g, has_request_context, request

from portal.audit.models import AuditEntry
from portal.extensions import db


def _actor():
    if not has_request_context():
        return None, "system"
    user = g.get("api_user")
    if user is None:
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            user = current_user
    if user is not None:
        return user.id, "user"
    if g.get("device") is not None:
        return None, "device"
    return None, "visitor"


def record(action, object_type, object_id=None, site_id=None, actor=None, **details):
    """Append an audit entry: who, what, when and from where."""
    actor_id, kind = (actor.id, "user") if actor is not None else _actor()
    if kind == "device" and g.get("device") is not None:
        details.setdefault("device_id", g.device.id)
    entry = AuditEntry(
        actor_id=actor_id,
        actor_kind=kind,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        site_id=site_id,
        ip=request.remote_addr if has_request_context() else None,
        user_agent=(request.user_agent.string or "")[:200] if has_request_context() else None,
        details=details,
    )
    db.session.add(entry)
    return entry


def record_pii(user, object_type, object_id, site_id, action="view", **details):
    """Staff were shown ("view") or given ("export") personal data: one "pii.<action>" row; residents are not audited."""
    if user is None or user.is_staff:
        return record(f"pii.{action}", object_type, object_id, site_id=site_id, **details)
    return None


def record_pii_view(user, pass_, what):
    """Staff looked at a visitor's personal data."""
    if user is not None:
        record_pii(user, "pass", pass_.id, pass_.site_id, fields=what)
