"""Reads for emergencies: the running one, its devices and roll call, the bridge's due work, the records."""

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.audit.operations import record
from portal.emergency.models import RELEASING, Emergency, EmergencyDevice, RollCallEntry
from portal.extensions import db


def running(site_id):
    """The site's running emergency or drill, or None."""
    return db.session.scalar(select(Emergency).where(Emergency.site_id == site_id, Emergency.ended_at.is_(None)))


def latest(site_id):
    """The running one, else the last that ended."""
    return running(site_id) or db.session.scalar(
        select(Emergency).where(Emergency.site_id == site_id).order_by(Emergency.id.desc()).limit(1)
    )


def history(site_id, limit=20):
    """Past emergencies and drills, newest first (the records with their timings)."""
    q = select(Emergency).where(Emergency.site_id == site_id).order_by(Emergency.id.desc()).limit(limit)
    return db.session.scalars(q).all()


def devices(emergency_id):
    """Each device's row for an emergency, by device id."""
    q = (
        select(EmergencyDevice)
        .where(EmergencyDevice.emergency_id == emergency_id)
        .options(selectinload(EmergencyDevice.device))
        .order_by(EmergencyDevice.device_id)
    )
    return db.session.scalars(q).all()


def roll_call(emergency_id):
    """The roll call, not yet accounted for first."""
    q = select(RollCallEntry).where(RollCallEntry.emergency_id == emergency_id)
    rows = db.session.scalars(q).all()
    return sorted(rows, key=lambda r: (r.accounted_at is not None, r.building or "", r.unit or "", r.visitor_name))


def roll_call_shown(emergency):
    """roll_call(), its view audited: staff are shown the names of who was on site."""
    record("pii.view", "roll_call", emergency.id, site_id=emergency.site_id, fields=["name"])
    return roll_call(emergency.id)


def paused_site_ids(session):
    """Sites where a fire or evacuation runs: credential pushes and revocations wait until it ends."""
    q = select(Emergency.site_id).where(Emergency.ended_at.is_(None), Emergency.kind.in_(RELEASING))
    return set(session.scalars(q))


def due_for_devices(session, device_ids):
    """Pending release/restore rows of these devices: device id -> (row id, mode); the newest emergency wins."""
    if not device_ids:
        return {}
    q = (
        select(EmergencyDevice.device_id, EmergencyDevice.id, EmergencyDevice.mode)
        .where(EmergencyDevice.state == "pending", EmergencyDevice.device_id.in_(list(device_ids)))
        .order_by(EmergencyDevice.id)
    )
    return {device_id: (row_id, mode) for device_id, row_id, mode in session.execute(q)}


def seconds(start, end):
    """Whole seconds between two moments, or None."""
    return round((end - start).total_seconds(), 3) if start is not None and end is not None else None


def drills(site_id, start, end):
    """Drills started in a period with their timings (the team's KPI; portal.reports.team)."""
    q = select(Emergency).where(
        Emergency.site_id == site_id, Emergency.kind == "drill", Emergency.started_at >= start, Emergency.started_at < end
    )
    return [
        {
            "id": e.id,
            "kind": e.kind,
            "started_at": e.started_at.isoformat(),
            "ended_at": e.ended_at.isoformat() if e.ended_at else None,
            "roll_call_seconds": seconds(e.started_at, e.roll_complete_at),
            "roll_call_minutes": round(seconds(e.started_at, e.roll_complete_at) / 60, 2) if e.roll_complete_at else None,
        }
        for e in db.session.scalars(q.order_by(Emergency.started_at))
    ]
