"""Writes on places and residencies."""

from portal.audit.operations import record
from portal.core.errors import Refused
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.sites.models import Building, Gate, Site, Unit


def create_site(slug, name, timezone="Asia/Shanghai", **extra):
    """A new community with its first signing key."""
    from portal.passes.operations import create_key

    site = Site(slug=slug, name=name, timezone=timezone, **extra)
    db.session.add(site)
    db.session.flush()
    create_key(site)
    record("site.create", "site", site.id, site_id=site.id, slug=slug)
    return site


def add_building(site, code, name, lowest_floor=1, highest_floor=1):
    """A building with its floors."""
    b = Building(site_id=site.id, code=code, name=name, lowest_floor=lowest_floor, highest_floor=highest_floor)
    db.session.add(b)
    db.session.flush()
    return b


def add_unit(building, number, floor):
    """A unit in a building."""
    u = Unit(building_id=building.id, number=number, floor=floor)
    db.session.add(u)
    db.session.flush()
    return u


def add_gate(site, code, name, kind="pedestrian", name_en=None, building=None):
    """An entrance."""
    g = Gate(site_id=site.id, code=code, name=name, kind=kind, name_en=name_en, building_id=building.id if building else None)
    db.session.add(g)
    db.session.flush()
    return g


def move_in(user, unit, relation, starts_at=None):
    """Link a resident to a unit."""
    from portal.accounts.models import RELATIONS, Residency

    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}")
    r = Residency(user_id=user.id, unit_id=unit.id, relation=relation, starts_at=starts_at or utcnow())
    db.session.add(r)
    db.session.flush()
    record("resident.move_in", "user", user.id, site_id=unit.building.site_id, unit_id=unit.id, relation=relation)
    return r


def move_out(residency, at=None):
    """End a residency and revoke at once every pass the resident issued for that unit."""
    from portal.passes.operations import revoke_issued_by

    if residency.ends_at is not None:
        raise Refused("already_ended", "This resident has already moved out.", kind="conflict")
    residency.ends_at = at or utcnow()
    revoked = revoke_issued_by(residency.user, unit_id=residency.unit_id, reason="host moved out")
    record(
        "resident.move_out",
        "user",
        residency.user_id,
        site_id=residency.unit.building.site_id,
        unit_id=residency.unit_id,
        revoked_passes=[p.id for p in revoked],
    )
    return revoked
