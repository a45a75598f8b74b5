"""Who came: visitors by name, unit visited and entry times, within what retention has kept (audited views)."""

from portal.audit.operations import record_pii
from portal.core.timeutil import as_utc
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.passes.models import Pass
from portal.passes.retention import PURGED_NAME
from portal.sites.models import Building, Unit
from portal.walkins.models import WalkIn

LIMIT = 200


def _iso(value):
    return as_utc(value).isoformat() if value else None


def visits(viewer, site, start, end, name=None, unit=None):
    """Passes and walk-ins of the site whose visit overlaps [start, end), with each entry and exit; erased ones are gone."""
    q = (
        db.select(Pass)
        .where(Pass.site_id == site.id, Pass.purged_at.is_(None), Pass.valid_from < end, Pass.valid_until >= start)
        .order_by(Pass.valid_from.desc())
        .limit(LIMIT)
    )
    w = (
        db.select(WalkIn)
        .where(WalkIn.site_id == site.id, WalkIn.pass_id.is_(None), WalkIn.created_at >= start, WalkIn.created_at < end)
        .where(WalkIn.visitor_name != PURGED_NAME)
        .order_by(WalkIn.created_at.desc())
        .limit(LIMIT)
    )
    if name:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(Pass.visitor_name.like(pattern, escape="\\"))
        w = w.where(WalkIn.visitor_name.like(pattern, escape="\\"))
    if unit:
        units = db.session.scalars(db.select(Unit).join(Building).where(Building.site_id == site.id)).all()
        wanted = unit.replace(" ", "")
        ids = [
            u.id
            for u in units
            if wanted in (u.number, f"{u.building.name}{u.number}", f"{u.building.name_en or u.building.name}{u.number}")
        ]
        q = q.where(Pass.unit_id.in_(ids or [-1]))
        w = w.where(WalkIn.unit_id.in_(ids or [-1]))
    passes = db.session.scalars(q).all()
    events = {}
    if passes:
        rows = db.session.execute(
            db.select(AccessEvent.pass_id, AccessEvent.at, AccessEvent.direction, AccessEvent.gate_id)
            .where(AccessEvent.pass_id.in_([p.id for p in passes]), AccessEvent.decision == "grant")
            .where(AccessEvent.at >= start, AccessEvent.at < end)
            .order_by(AccessEvent.at)
        ).all()
        for pass_id, at, direction, gate_id in rows:
            events.setdefault(pass_id, []).append({"at": _iso(at), "direction": direction, "gate_id": gate_id})
    out = [
        {
            "kind": "pass",
            "id": p.id,
            "name": p.visitor_name,
            "unit": p.unit.label,
            "pass_kind": p.kind,
            "valid_from": _iso(p.valid_from),
            "valid_until": _iso(p.valid_until),
            "entries": events.get(p.id, []),
        }
        for p in passes
    ]
    out += [
        {"kind": "walk_in", "id": x.id, "name": x.visitor_name, "unit": x.unit.label, "at": _iso(x.created_at), "entries": []}
        for x in db.session.scalars(w)
    ]
    # An investigation is a view of personal data: one audit row naming what was asked and how much was shown.
    record_pii(viewer, "site", site.id, site.id, fields=["name", "unit", "times"], name=bool(name), unit=unit, rows=len(out))
    return out
