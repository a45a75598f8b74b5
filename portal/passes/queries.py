"""Reading passes, always through the caller's reach (own units, or own site for staff)."""
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


def list_for(user, status=None, limit=100, offset=0):
    """Newest passes first."""
    q = scoped(user).order_by(Pass.id.desc()).limit(min(max(limit, 1), 200)).offset(min(max(offset, 0), 10**6))
    rows = db.session.scalars(q).all()
    if status:
        now = utcnow()
        rows = [p for p in rows if p.state(now) == status]
    return rows


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
