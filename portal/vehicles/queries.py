"""Whose cars a user may see: a resident's households, a staff member's site."""

from portal.accounts.queries import reachable_unit_ids
from portal.extensions import db
from portal.vehicles.models import Vehicle

DEFAULT_PER_UNIT = 3


def per_unit_limit(site):
    """The site's most cars per unit (site setting vehicles_per_unit, default 3)."""
    try:
        return max(0, int((site.settings or {}).get("vehicles_per_unit", DEFAULT_PER_UNIT)))
    except (TypeError, ValueError):
        return DEFAULT_PER_UNIT


def need_approval(site):
    """True when a manager approves new cars first (site setting vehicles_need_approval)."""
    return bool((site.settings or {}).get("vehicles_need_approval", False))


def for_units(unit_ids):
    """Cars of these units, by unit then plate."""
    q = db.select(Vehicle).where(Vehicle.unit_id.in_(set(unit_ids) or {-1}))
    return db.session.scalars(q.order_by(Vehicle.unit_id, Vehicle.plate)).all()


def for_site(site_id, status=None, pending_first=False):
    """A site's cars (optionally one status), newest first; pending_first (the managers' page): those waiting first."""
    q = db.select(Vehicle).where(Vehicle.site_id == site_id)
    if status is not None:
        q = q.where(Vehicle.status == status)
    # Ordered before the limit, so a car still waiting is never cut off by newer approved ones.
    waiting = (db.case((Vehicle.status == "pending", 0), else_=1),) if pending_first else ()
    return db.session.scalars(q.order_by(*waiting, Vehicle.id.desc()).limit(1000)).all()


def count_for_unit(unit_id):
    """How many cars (active or pending) a unit holds."""
    return db.session.scalar(db.select(db.func.count(Vehicle.id)).where(Vehicle.unit_id == unit_id))


def get_for_resident(user, vehicle_id):
    """A car of one of the resident's units, or None."""
    v = db.session.get(Vehicle, vehicle_id)
    return v if v is not None and v.unit_id in reachable_unit_ids(user) else None
