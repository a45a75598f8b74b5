"""Walk-in and item-movement reads: the desk's lists, a host's pending requests, the SMS link."""

import functools

from sqlalchemy import bindparam, func

from portal.accounts.models import Residency, User
from portal.accounts.queries import current_unit_ids
from portal.core import crypto
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.sites.models import Building, Unit
from portal.walkins.models import ItemMovement, WalkIn


def residents_of(unit, now=None):
    """Residents living in a unit now, oldest residency first."""
    now = now or utcnow()
    q = (
        db.select(User)
        .join(Residency, Residency.user_id == User.id)
        .where(
            Residency.unit_id == unit.id,
            Residency.starts_at <= now,
            User.active.is_(True),
            (Residency.ends_at.is_(None)) | (Residency.ends_at > now),
        )
        .order_by(Residency.id)
    )
    return db.session.scalars(q).all()


def units_by_building(site_id):
    """A site's units for the desk's forms, by building code and unit number."""
    return db.session.scalars(
        db.select(Unit).join(Building).where(Building.site_id == site_id).order_by(Building.code, Unit.number)
    ).all()


def walk_ins(site_id, status=None, limit=100):
    """A site's walk-ins, newest first."""
    q = db.select(WalkIn).where(WalkIn.site_id == site_id)
    if status:
        q = q.where(WalkIn.status == status)
    return db.session.scalars(q.order_by(WalkIn.id.desc()).limit(limit)).all()


def items(site_id, limit=100):
    """A site's item movements, newest first."""
    return db.session.scalars(
        db.select(ItemMovement).where(ItemMovement.site_id == site_id).order_by(ItemMovement.id.desc()).limit(limit)
    ).all()


def _awaiting(model, units, now):
    """The conditions of a model's rows a unit among units still has to answer at now."""
    return model.unit_id.in_(units), model.status == "pending", model.expires_at > now


def pending_for_units(unit_ids):
    """Walk-ins and item movements a resident's units have to answer."""
    ids = unit_ids or {-1}
    now = utcnow()
    w = db.session.scalars(db.select(WalkIn).where(*_awaiting(WalkIn, ids, now)).order_by(WalkIn.id)).all()
    i = db.session.scalars(db.select(ItemMovement).where(*_awaiting(ItemMovement, ids, now)).order_by(ItemMovement.id)).all()
    return w, i


@functools.cache
def _waiting():
    """One statement counting both kinds for a user at a time, built once (its cache key is worked out once)."""
    now = bindparam("now")
    units = current_unit_ids(bindparam("user_id"), now)
    counts = [
        db.select(func.count()).select_from(model).where(*_awaiting(model, units, now)).scalar_subquery()
        for model in (WalkIn, ItemMovement)
    ]
    return db.select(counts[0] + counts[1])


def waiting_for(user):
    """How many walk-ins and item movements wait for a resident's answer: one round trip (every page's nav asks)."""
    return db.session.scalar(_waiting(), {"user_id": user.id, "now": utcnow()})


def by_token(kind, token):
    """A walk-in ("w") or item movement ("i") by its SMS link token, or None."""
    model = {"w": WalkIn, "i": ItemMovement}.get(kind)
    if model is None or not token or len(token) > 64:
        return None
    return db.session.scalar(db.select(model).where(model.token_hash == crypto.token_hash(token)))
