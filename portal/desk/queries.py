"""Desk reads: events with filters, who is on site, vehicles, contractors and deliveries, walk-in figures."""

from datetime import timedelta

from sqlalchemy import func

from portal.audit.operations import record
from portal.core.converters import is_id
from portal.core.timeutil import local_text, utcnow
from portal.core.validators import mask_phone
from portal.desk.models import DeskException, Shift
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.passes.models import Pass
from portal.sites.models import Gate

GUARD_SHARE_ALERT = 0.10


def events(site_id, decision=None, gate_id=None, since=None, until=None, before_id=None, limit=100):
    """A site's events, newest first, filtered."""
    q = db.select(AccessEvent).where(AccessEvent.site_id == site_id)
    if decision in ("grant", "deny"):
        q = q.where(AccessEvent.decision == decision)
    if gate_id:
        q = q.where(AccessEvent.gate_id == gate_id)
    if since is not None:
        q = q.where(AccessEvent.at >= since)
    if until is not None:
        q = q.where(AccessEvent.at < until)
    if before_id:
        q = q.where(AccessEvent.id < before_id)
    return db.session.scalars(q.order_by(AccessEvent.id.desc()).limit(min(max(limit, 1), 500))).all()


def events_after(site_id, after_id, decision=None, gate_id=None, limit=2000):
    """Events after an id, oldest first: what a reconnecting stream missed."""
    return db.session.scalars(
        _filtered(db.select(AccessEvent).where(AccessEvent.id > after_id), site_id, decision, gate_id)
        .order_by(AccessEvent.id)
        .limit(limit)
    ).all()


# Ids are taken at INSERT and become visible at COMMIT, so a transaction that inserted before event L and
# committed after a board saw L holds ids below L that "after L" never returns. Such late rows are looked
# for among the LATE_IDS ids below L, decided at most LATE_SECONDS before L: every transaction whose
# insert-to-commit time plus journal delay stays under that is replayed.
LATE_IDS = 10_000
LATE_SECONDS = 5
LATE_LIMIT = 500


def late_events(site_id, before_id, decision=None, gate_id=None):
    """Events with ids below before_id that may have committed after it (a board dedupes by id)."""
    anchor = db.session.scalar(db.select(AccessEvent.at).where(AccessEvent.id == before_id))
    if anchor is None:
        return []
    q = db.select(AccessEvent).where(
        AccessEvent.id < before_id,
        AccessEvent.id > before_id - LATE_IDS,
        AccessEvent.at >= anchor - timedelta(seconds=LATE_SECONDS),
    )
    return db.session.scalars(_filtered(q, site_id, decision, gate_id).order_by(AccessEvent.id).limit(LATE_LIMIT)).all()


def _filtered(q, site_id, decision, gate_id):
    if site_id is not None:
        q = q.where(AccessEvent.site_id == site_id)
    if decision in ("grant", "deny"):
        q = q.where(AccessEvent.decision == decision)
    if gate_id:
        q = q.where(AccessEvent.gate_id == gate_id)
    return q


def events_by_id(ids, site_ids=None):
    """Events named by id (of some sites only, when given), oldest first, with pass, unit and gate in the same select."""
    from sqlalchemy.orm import joinedload

    from portal.sites.models import Unit

    q = db.select(AccessEvent).where(AccessEvent.id.in_(ids))
    if site_ids is not None:
        q = q.where(AccessEvent.site_id.in_(site_ids))
    q = q.options(joinedload(AccessEvent.pass_).joinedload(Pass.unit).joinedload(Unit.building), joinedload(AccessEvent.gate))
    return db.session.scalars(q.order_by(AccessEvent.id)).all()


def gates(site_id):
    """The site's gates."""
    return db.session.scalars(db.select(Gate).where(Gate.site_id == site_id).order_by(Gate.id)).all()


def site_device(site_id, device_id):
    """The site's device with this id, or None (another site's devices do not exist for this user)."""
    from portal.devices.models import Device

    device = db.session.get(Device, device_id) if is_id(device_id) else None
    return device if device is not None and device.site_id == site_id else None


def devices(site_id):
    """Devices a guard may open remotely, by name: the site's devices not being removed."""
    from portal.devices.models import Device

    return db.session.scalars(
        db.select(Device).where(Device.site_id == site_id, Device.status.notin_(("removing", "removed"))).order_by(Device.name)
    ).all()


def failed_pushes():
    """(device id, site id, failed credentials) of devices with credential pushes that failed."""
    try:
        from portal.bridge.models import DeviceCredential
    except ImportError:  # the bridge is optional
        return []
    from portal.devices.models import Device

    q = (
        db.select(DeviceCredential.device_id, Device.site_id, db.func.count())
        .join(Device, Device.id == DeviceCredential.device_id)
        .where(DeviceCredential.status == "failed")
        .group_by(DeviceCredential.device_id, Device.site_id)
    )
    return db.session.execute(q).all()


def exceptions(site_id, status=None, limit=200):
    """Exceptions of a site: open and taken first, then the newest."""
    q = db.select(DeskException).where(DeskException.site_id == site_id)
    if status == "open":
        q = q.where(DeskException.status != "closed")
    elif status in ("taken", "closed"):
        q = q.where(DeskException.status == status)
    return db.session.scalars(q.order_by(DeskException.id.desc()).limit(limit)).all()


def _latest_moves(site_id, cutoff, by, extra=()):
    """The latest granted in/out per pass (or plate) since cutoff; order by time, then id (replays arrive late)."""
    rank = func.row_number().over(partition_by=by, order_by=(AccessEvent.at.desc(), AccessEvent.id.desc())).label("rk")
    inner = (
        db.select(AccessEvent.id.label("eid"), rank)
        .where(
            AccessEvent.site_id == site_id,
            AccessEvent.decision == "grant",
            by.is_not(None),
            AccessEvent.direction.in_(("in", "out")),
            AccessEvent.at >= cutoff,
            *extra,
        )
        .subquery()
    )
    q = db.select(AccessEvent).join(inner, inner.c.eid == AccessEvent.id).where(inner.c.rk == 1, AccessEvent.direction == "in")
    return db.session.scalars(q).all()


def on_site(site, now=None, hours=24):
    """Visitors and contractors whose last granted move is "in", grouped by building (evacuation roll call)."""
    now = now or utcnow()
    rows = []
    for ev in _latest_moves(site.id, now - timedelta(hours=hours), AccessEvent.pass_id):
        p = ev.pass_
        rows.append(
            {
                "building": p.unit.building.name,
                "building_en": p.unit.building.name_en,
                "unit": p.unit.label,
                "visitor": p.visitor_name,
                "phone": mask_phone(p.visitor_phone),
                "kind": p.kind,
                "company": p.company,
                "work_area": p.work_area,
                "plate": ev.plate or p.plate,
                "entered_at": local_text(
                    ev.at,
                    site.timezone,
                ),
                "gate": ev.gate.name if ev.gate else None,
                "pass_id": p.id,
            }
        )
    rows.sort(key=lambda r: (r["building"], r["unit"], r["visitor"]))
    return rows


def on_site_shown(site):
    """on_site(site), its view audited (names and masked phones)."""
    rows = on_site(site)
    record("pii.view", "on_site", site.id, site_id=site.id, fields=["name", "phone_masked"], count=len(rows))
    return rows


def on_site_exported(site):
    """on_site(site) for a CSV, its export audited."""
    rows = on_site(site)
    record("pii.export", "on_site", site.id, site_id=site.id, count=len(rows))
    return rows


def by_building(rows):
    """Roll-call rows as [(building, rows)]."""
    out = {}
    for r in rows:
        out.setdefault(r["building"], []).append(r)
    return sorted(out.items())


def vehicles_on_site(site, now=None, days=7):
    """Visitor vehicles in and not out, with the site's parking limit and whether they overstay."""
    now = now or utcnow()
    limit = int((site.settings or {}).get("parking_minutes", 120))
    cars = []
    for ev in _latest_moves(site.id, now - timedelta(days=days), AccessEvent.plate, extra=(AccessEvent.pass_id.is_not(None),)):
        minutes = int((now - ev.at).total_seconds() // 60)
        cars.append(
            {
                "plate": ev.plate,
                "event_id": ev.id,
                "pass_id": ev.pass_id,
                "gate_id": ev.gate_id,
                "unit": ev.pass_.unit.label if ev.pass_ else None,
                "entered_at": local_text(
                    ev.at,
                    site.timezone,
                ),
                "minutes": minutes,
                "limit_minutes": limit,
                "overstay": minutes > limit,
            }
        )
    return sorted(cars, key=lambda c: -c["minutes"])


def passes_of_kind(site, kind, now=None):
    """Live passes of a kind (contractor, delivery) with their hours and whether the person is inside."""
    now = now or utcnow()
    inside = {r["pass_id"] for r in on_site(site, now)}
    q = (
        db.select(Pass)
        .where(
            Pass.site_id == site.id,
            Pass.kind == kind,
            Pass.status == "active",
            Pass.valid_until > now,
            Pass.valid_from <= now + timedelta(days=1),
        )
        .order_by(Pass.valid_until)
    )
    out = []
    for p in db.session.scalars(q):
        if p.state(now) not in ("active", "pending"):
            continue
        sched = p.schedule or {}
        out.append(
            {
                "pass_id": p.id,
                "visitor": p.visitor_name,
                "company": p.company,
                "work_area": p.work_area,
                "unit": p.unit.label,
                "hours": f"{sched['start']}–{sched['end']}" if sched else None,
                "days": sched.get("days"),
                "recurring": bool(sched),
                "valid_from": local_text(
                    p.valid_from,
                    p.timezone,
                ),
                "valid_until": local_text(
                    p.valid_until,
                    p.timezone,
                ),
                "on_site": p.id in inside,
            }
        )
    return out


def walk_in_stats(site_id, days=30, now=None):
    """Walk-ins let in, and the share the guards approved without the host (above 10% means bypassed residents)."""
    now = now or utcnow()
    q = (
        db.select(AccessEvent.approved_by, func.count())
        .where(
            AccessEvent.site_id == site_id,
            AccessEvent.method == "walk_in",
            AccessEvent.decision == "grant",
            AccessEvent.at >= now - timedelta(days=days),
        )
        .group_by(AccessEvent.approved_by)
    )
    counts = dict(db.session.execute(q).all())
    total = sum(counts.values())
    by_guard = counts.get("guard", 0)
    share = by_guard / total if total else 0.0
    return {
        "days": days,
        "total": total,
        "by_host": counts.get("host", 0),
        "by_guard": by_guard,
        "guard_share": round(share, 4),
        "alert": share > GUARD_SHARE_ALERT,
        "threshold": GUARD_SHARE_ALERT,
    }


def last_handover(site_id):
    """The last ended shift at the site (its notes and the exceptions it handed over)."""
    return db.session.scalar(
        db.select(Shift).where(Shift.site_id == site_id, Shift.ended_at.is_not(None)).order_by(Shift.ended_at.desc()).limit(1)
    )


def remote_details(rows):
    """For the remote opens among events: {event id: {"device", "door", "guard"}} (device row, door number, name)."""
    from portal.accounts.models import User
    from portal.devices.models import Device, DeviceCommand

    remote = [ev for ev in rows if ev.method == "remote"]
    if not remote:
        return {}
    command_ids = {(ev.details or {}).get("command_id") for ev in remote} - {None}
    doors = (
        dict(db.session.execute(db.select(DeviceCommand.id, DeviceCommand.door).where(DeviceCommand.id.in_(command_ids))).all())
        if command_ids
        else {}
    )
    device_ids = {ev.device_id for ev in remote if ev.device_id}
    devices = {d.id: d for d in db.session.scalars(db.select(Device).where(Device.id.in_(device_ids)))} if device_ids else {}
    actor_ids = {ev.actor_id for ev in remote if ev.actor_id}
    names = (
        dict(db.session.execute(db.select(User.id, User.display_name).where(User.id.in_(actor_ids))).all()) if actor_ids else {}
    )
    return {
        ev.id: {
            "device": devices.get(ev.device_id),
            "door": doors.get((ev.details or {}).get("command_id")),
            "guard": names.get(ev.actor_id),
        }
        for ev in remote
    }
