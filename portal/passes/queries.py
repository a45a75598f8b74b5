"""Reading passes, always through the caller's reach (own units, or own site for staff)."""

from sqlalchemy import or_

from portal.accounts.queries import reachable_unit_ids, site_condition
from portal.audit.operations import record_pii
from portal.core.crypto import token_hash
from portal.core.timeutil import utcnow
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.notify.models import Message
from portal.passes.models import Pass


def scoped(user):
    """A select over the passes a user may see."""
    q = db.select(Pass)
    if user.role == "resident":
        return q.where(Pass.unit_id.in_(reachable_unit_ids(user) or {-1}))
    return q.where(site_condition(user, Pass.site_id))


STATES = ("active", "pending", "used_up", "expired", "revoked", "awaiting_approval")


def state_condition(state, now):
    """SQL for Pass.state(now) == state, so a filtered list pages over matching passes only."""
    live = (Pass.status == "active") & (Pass.valid_until > now)
    used_up = Pass.max_entries.is_not(None) & (Pass.uses >= Pass.max_entries)
    return {
        "revoked": Pass.status == "revoked",
        "expired": (Pass.status != "revoked") & (Pass.valid_until <= now),
        "used_up": live & used_up,
        "pending": live & ~used_up & (Pass.valid_from > now),
        "active": live & ~used_up & (Pass.valid_from <= now),
        "awaiting_approval": (Pass.status == "awaiting_approval") & (Pass.valid_until > now),
    }[state]


# The resident's list views: ended passes (used up, expired, revoked) leave the default one.
VIEWS = {
    "current": ("active", "pending", "awaiting_approval"),
    "live": ("active",),
    "upcoming": ("pending",),
    "past": ("used_up", "expired", "revoked"),
}


def list_for(user, status=None, limit=100, offset=0, states=None):
    """Newest passes first; status (one of STATES) or states (several) filter before paging."""
    q = scoped(user)
    now = utcnow()
    if status:
        q = q.where(state_condition(status, now))
    if states:
        q = q.where(or_(*(state_condition(s, now) for s in states)))
    q = q.order_by(Pass.id.desc()).limit(min(max(limit, 1), 200)).offset(min(max(offset, 0), 10**6))
    return db.session.scalars(q).all()


def get_for(user, pass_id):
    """A pass the user may see, or None (callers answer 404 either way)."""
    if not isinstance(pass_id, int) or pass_id <= 0 or pass_id > 2**31:
        return None
    return db.session.scalar(scoped(user).where(Pass.id == pass_id))


def by_link(token):
    """A pass by its visitor link token."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(db.select(Pass).where(Pass.link_hash == token_hash(token)))


SHOWN_FIELDS = ["name", "phone_masked", "plate"]  # what pass_json shows staff of a visitor


def list_shown(user, status=None, limit=50, offset=0):
    """list_for, audited when staff are shown visitors' data."""
    rows = list_for(user, status=status, limit=limit, offset=offset)
    if rows:
        record_pii(user, "passes", None, user.site_id, fields=SHOWN_FIELDS, pass_ids=[p.id for p in rows])
    return rows


def get_shown(user, pass_id):
    """get_for, audited when staff are shown the visitor's data."""
    p = get_for(user, pass_id)
    if p is not None:
        record_pii(user, "pass", p.id, p.site_id, fields=SHOWN_FIELDS)
    return p


def visitor_export(user, p):
    """Everything held about the visitor of a pass (data-subject request): personal data, SMS, access records; audited."""
    record_pii(user, "pass", p.id, p.site_id, action="export")
    events = db.session.scalars(db.select(AccessEvent).where(AccessEvent.pass_id == p.id).order_by(AccessEvent.id)).all()
    messages = db.session.scalars(db.select(Message).where(Message.pass_id == p.id).order_by(Message.id)).all()
    return {
        "pass_id": p.id,
        "visitor": {
            "name": p.visitor_name,
            "phone": p.visitor_phone,
            "id_number": p.visitor_id_number,
            "plate": p.plate,
            "company": p.company,
            "work_area": p.work_area,
            "note": p.note,
        },
        "valid_from": p.valid_from.isoformat(),
        "valid_until": p.valid_until.isoformat(),
        "purged_at": p.purged_at.isoformat() if p.purged_at else None,
        "sms": [{"to": m.to, "body": m.body, "status": m.status, "at": m.created_at.isoformat()} for m in messages],
        "access": [
            {
                "at": e.at.isoformat(),
                "gate_id": e.gate_id,
                "method": e.method,
                "decision": e.decision,
                "reason": e.reason,
                "direction": e.direction,
            }
            for e in events
        ],
    }
