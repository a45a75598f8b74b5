"""Registering, approving and removing residents' cars (all writes)."""

from portal.accounts.models import Residency
from portal.audit.operations import record
from portal.core import validators as v
from portal.core.errors import Refused, ValidationFailed
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.vehicles import queries
from portal.vehicles.models import Vehicle


def register(user, unit, plate_text):
    """Add a car to a unit: a valid plate, not yet registered at the site, within the site's limit."""
    errors = {}
    plate = v.collect(errors, "plate", v.plate, plate_text, required=True)
    if errors:
        raise ValidationFailed(errors)
    site = unit.building.site
    taken = db.session.scalar(db.select(Vehicle.id).where(Vehicle.site_id == site.id, Vehicle.plate == plate))
    if taken is not None:
        raise Refused(
            "plate_taken",
            "This plate is already registered here.",
            fields={"plate": ("plate_taken", "This plate is already registered here.")},
            kind="conflict",
        )
    limit = queries.per_unit_limit(site)
    if queries.count_for_unit(unit.id) >= limit:
        raise Refused("limit_reached", "This home already has %(n)s cars registered.", kind="conflict", n=limit)
    car = Vehicle(
        site_id=site.id,
        unit_id=unit.id,
        plate=plate,
        status="pending" if queries.need_approval(site) else "active",
        created_by_id=user.id,
    )
    db.session.add(car)
    db.session.flush()
    record("vehicle.add", "vehicle", car.id, site_id=site.id, unit_id=unit.id, plate=plate, status=car.status)
    return car


def approve(user, car):
    """A manager lets a pending car in."""
    if car.status != "pending":
        raise Refused("not_pending", "This car is not waiting for approval.", kind="conflict")
    car.status, car.approved_by_id, car.approved_at = "active", user.id, utcnow()
    record("vehicle.approve", "vehicle", car.id, site_id=car.site_id, unit_id=car.unit_id, plate=car.plate)
    return car


def withdraw_approval(user, car):
    """A manager takes an approval back: the car waits again, and barriers drop its plate."""
    if car.status != "active":
        raise Refused("not_active", "This car is not approved.", kind="conflict")
    car.status, car.approved_by_id, car.approved_at = "pending", None, None
    record("vehicle.withdraw", "vehicle", car.id, site_id=car.site_id, unit_id=car.unit_id, plate=car.plate, by=user.id)
    return car


def remove(car, reason="removed"):
    """Delete a car: the barrier refuses the plate from the next read (plate decisions use no cache)."""
    record("vehicle.remove", "vehicle", car.id, site_id=car.site_id, unit_id=car.unit_id, plate=car.plate, reason=reason)
    db.session.delete(car)
    db.session.flush()


def remove_if_unit_empty(unit_id, at=None):
    """After a move-out: the household's cars go when nobody lives in the unit any more; the plates removed."""
    at = at or utcnow()
    remaining = db.session.scalar(
        db.select(db.func.count(Residency.id)).where(
            Residency.unit_id == unit_id, Residency.starts_at <= at, Residency.ends_at.is_(None) | (Residency.ends_at > at)
        )
    )
    if remaining:
        return []
    cars = queries.for_units({unit_id})
    for car in cars:
        remove(car, reason="moved out")
    return [car.plate for car in cars]


def vehicle_json(car):
    """A car as its household and the site's staff see it."""
    return {
        "id": car.id,
        "plate": car.plate,
        "unit_id": car.unit_id,
        "unit": car.unit.label if car.unit is not None else None,
        "status": car.status,
        "created_at": car.created_at.isoformat() if car.created_at else None,
        "approved_at": car.approved_at.isoformat() if car.approved_at else None,
    }
