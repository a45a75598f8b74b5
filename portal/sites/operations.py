"""Writes on places and residencies (applying an imported roll: portal.sites.roll_import)."""

from portal.audit.operations import record
from portal.core.errors import Refused, ValidationFailed
from portal.core.i18n import N_
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


def _changes(obj, values):
    """Set the values that differ; {field: [old, new]} for the audit row."""
    changed = {}
    for key, new in values.items():
        old = getattr(obj, key)
        if old != new:
            changed[key] = [old, new]
            setattr(obj, key, new)
    return changed


def _taken(model, code_field, value, scope, exclude_id=None):
    q = db.select(model.id).where(getattr(model, code_field) == value, *scope)
    if exclude_id is not None:
        q = q.where(model.id != exclude_id)
    return db.session.scalar(q.limit(1)) is not None


def _referenced_by(table_name, obj_id, skip=()):
    """The first other table holding a row that points at this row (a unit's passes, residencies, cars…), or None."""
    for table in db.metadata.sorted_tables:
        if table.name in skip:
            continue
        for fk in table.foreign_keys:
            if (
                fk.column.table.name == table_name
                and db.session.execute(db.select(fk.parent).where(fk.parent == obj_id).limit(1)).first()
            ):
                return table.name
    return None


def open_site(actor, values):
    """A community created from the console; a manager who has none becomes its manager."""
    if site_slug_taken(values["slug"]):
        raise ValidationFailed({"slug": ("slug_taken", N_("Another community already uses this short name."))})
    site = create_site(**values)
    if actor.role == "manager" and actor.site_id is None:
        actor.site_id = site.id
        record("user.site", "user", actor.id, site_id=site.id)
    return site


def site_slug_taken(slug):
    """True when a community already uses this slug."""
    return _taken(Site, "slug", slug, ())


def update_site(site, values):
    """Names, time zone, address and directions (the slug stays: it is in links already sent)."""
    changed = _changes(site, values)
    if changed:
        record("site.update", "site", site.id, site_id=site.id, changes=changed)
    return changed


def create_building(site, values):
    """A building from the console, its code unique in the community."""
    if _taken(Building, "code", values["code"], (Building.site_id == site.id,)):
        raise ValidationFailed({"code": ("code_taken", N_("This community already has a building with this code."))})
    b = add_building(site, values["code"], values["name"], values["lowest_floor"], values["highest_floor"])
    b.name_en = values["name_en"]
    record("building.create", "building", b.id, site_id=site.id, code=b.code)
    return b


def update_building(building, values):
    """Names and floor range; a range that would leave a unit outside it is refused."""
    low, high = values["lowest_floor"], values["highest_floor"]
    outside = [u.number for u in building.units if not (low <= u.floor <= high) or u.floor == 0]
    if outside:
        raise ValidationFailed(
            {
                "lowest_floor": (
                    "units_outside",
                    N_("Units %(units)s would be outside the floors."),
                    {"units": ", ".join(outside[:5])},
                )
            }
        )
    changed = _changes(building, values)
    if changed:
        record("building.update", "building", building.id, site_id=building.site_id, changes=changed)
    return changed


def _has_residents(unit_ids):
    from portal.accounts.models import Residency

    now = utcnow()
    q = db.select(Residency.id).where(
        Residency.unit_id.in_(unit_ids or [-1]), (Residency.ends_at.is_(None)) | (Residency.ends_at > now)
    )
    return db.session.scalar(q.limit(1)) is not None


def delete_unit(unit):
    """Remove a unit nobody lives in and nothing refers to (passes, past residents, cars keep it)."""
    if _has_residents([unit.id]):
        raise Refused("has_residents", N_("People live here: move them out first."), kind="conflict")
    if _referenced_by("units", unit.id):
        raise Refused("in_use", N_("This unit has history (passes, residents or cars) and is kept."), kind="conflict")
    record("unit.delete", "unit", unit.id, site_id=unit.building.site_id, number=unit.number)
    db.session.delete(unit)
    db.session.flush()


def delete_building(building):
    """Remove a building without residents, history or gates, with its empty units."""
    units = list(building.units)
    if _has_residents([u.id for u in units]):
        raise Refused("has_residents", N_("People live in this building: move them out first."), kind="conflict")
    if any(_referenced_by("units", u.id) for u in units) or _referenced_by("buildings", building.id, skip=("units",)):
        raise Refused("in_use", N_("This building has history or gates and is kept."), kind="conflict")
    for u in units:
        db.session.delete(u)
    record("building.delete", "building", building.id, site_id=building.site_id, code=building.code)
    db.session.delete(building)
    db.session.flush()


def create_unit(building, values):
    """A unit from the console, its number unique in the building."""
    if _taken(Unit, "number", values["number"], (Unit.building_id == building.id,)):
        raise ValidationFailed({"number": ("number_taken", N_("This building already has a unit with this number."))})
    u = add_unit(building, values["number"], values["floor"])
    record("unit.create", "unit", u.id, site_id=building.site_id, number=u.number)
    return u


def update_unit(unit, values):
    """A unit's number and floor."""
    if _taken(Unit, "number", values["number"], (Unit.building_id == unit.building_id,), exclude_id=unit.id):
        raise ValidationFailed({"number": ("number_taken", N_("This building already has a unit with this number."))})
    changed = _changes(unit, values)
    if changed:
        record("unit.update", "unit", unit.id, site_id=unit.building.site_id, changes=changed)
    return changed


def create_gate(site, values):
    """A gate from the console, its code unique in the community."""
    if _taken(Gate, "code", values["code"], (Gate.site_id == site.id,)):
        raise ValidationFailed({"code": ("code_taken", N_("This community already has a gate with this code."))})
    g = Gate(site_id=site.id, **values)
    db.session.add(g)
    db.session.flush()
    record("gate.create", "gate", g.id, site_id=site.id, code=g.code)
    return g


def update_gate(gate, values):
    """A gate's names, kind and building."""
    changed = _changes(gate, values)
    if changed:
        record("gate.update", "gate", gate.id, site_id=gate.site_id, changes=changed)
    return changed


def delete_gate(gate):
    """Remove a gate no device serves (access events keep its id as history)."""
    from portal.devices.models import Device

    devices = db.session.scalars(db.select(Device).where(Device.site_id == gate.site_id)).all()
    if any(gate.id in (d.gate_ids or []) for d in devices) or _referenced_by("gates", gate.id):
        raise Refused("in_use", N_("A device serves this gate: change the device first."), kind="conflict")
    record("gate.delete", "gate", gate.id, site_id=gate.site_id, code=gate.code)
    db.session.delete(gate)
    db.session.flush()


def change_settings(site, values):
    """Store validated settings (sites.settings.parse); audit each change as [old, new]."""
    from portal.sites import settings

    db.session.refresh(site, with_for_update=True)  # two managers saving at once: the second sees the first's keys
    before = settings.current(site)
    stored = dict(site.settings or {})
    changed = {}
    for key, new in values.items():
        if isinstance(before[key], dict):
            new = before[key] | new  # a table sent in part keeps its other rows
        if before[key] != new:
            changed[key] = [before[key], new]
        stored[key] = new
    if changed:
        site.settings = stored  # a new dict: SQLAlchemy sees a JSON column change only on assignment
        record("site.settings", "site", site.id, site_id=site.id, changes=changed)
    return changed


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
    """End a residency and revoke at once every pass the resident issued for that unit (and the unit's cars when it empties)."""
    from portal.passes.operations import revoke_issued_by
    from portal.vehicles.operations import remove_if_unit_empty

    if residency.ends_at is not None:
        raise Refused("already_ended", "This resident has already moved out.", kind="conflict")
    residency.ends_at = at or utcnow()
    revoked = revoke_issued_by(residency.user, unit_id=residency.unit_id, reason="host moved out")
    # The last one out takes the cars; a move-out dated back is weighed now, or a newcomer's cars would go too.
    plates = remove_if_unit_empty(residency.unit_id, max(residency.ends_at, utcnow()))
    record(
        "resident.move_out",
        "user",
        residency.user_id,
        site_id=residency.unit.building.site_id,
        unit_id=residency.unit_id,
        revoked_passes=[p.id for p in revoked],
        removed_plates=plates,
    )
    return revoked
