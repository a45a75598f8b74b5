"""Reading passes, always through the caller's reach (own units, or own site for staff)."""
from sqlalchemy import or_

from portal.accounts.models import Residency
from portal.core.crypto import token_hash
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.passes.models import Pass


def reachable_unit_ids(user):
    """Units the resident lives in now."""
    now = utcnow()
    q = db.select(Residency.unit_id).where(
        Residency.user_id == user.id, Residency.starts_at <= now,
        (Residency.ends_at.is_(None)) | (Residency.ends_at > now))
    return set(db.session.scalars(q))


def scoped(user):
    """A select over the passes a user may see."""
    q = db.select(Pass)
    if user.role == "resident":
        return q.where(Pass.unit_id.in_(reachable_unit_ids(user) or {-1}))
    if user.role == "admin" and user.site_id is None:
        return q
    return q.where(Pass.site_id == (user.site_id or -1))


STATES = ("active", "pending", "used_up", "expired", "revoked")


def state_condition(state, now):
    """SQL for Pass.state(now) == state, so a filtered list pages over matching passes only."""
    live = (Pass.status != "revoked") & (Pass.valid_until > now)
    used_up = Pass.max_entries.is_not(None) & (Pass.uses >= Pass.max_entries)
    return {
        "revoked": Pass.status == "revoked",
        "expired": (Pass.status != "revoked") & (Pass.valid_until <= now),
        "used_up": live & used_up,
        "pending": live & ~used_up & (Pass.valid_from > now),
        "active": live & ~used_up & (Pass.valid_from <= now),
    }[state]


# The resident's list views: ended passes (used up, expired, revoked) leave the default one.
VIEWS = {"current": ("active", "pending"), "live": ("active",), "upcoming": ("pending",),
         "past": ("used_up", "expired", "revoked")}


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
