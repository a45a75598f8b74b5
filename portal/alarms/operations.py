"""Raising, clearing and acknowledging alarms; each write is audited and announced to the live board."""

from sqlalchemy import select

from portal.alarms import feed
from portal.alarms.models import KINDS, SELF_CLEARING, Alarm
from portal.alarms.serialize import ALARM_LABELS
from portal.audit.operations import record
from portal.core.errors import Refused
from portal.core.i18n import local_name
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.shifts.operations import close_offers, offer_to_guards
from portal.sites.models import Building


def check_kind(kind):
    """The kind if it is one of ours, else a refusal naming the field."""
    if kind not in KINDS:
        raise Refused(
            "invalid", "Some fields are invalid.", fields={"kind": ("invalid_choice", "Choose one of the listed values.")}
        )
    return kind


def _open(device_id, kind, door):
    q = select(Alarm).where(
        Alarm.device_id == device_id,
        Alarm.kind == kind,
        Alarm.acknowledged_at.is_(None),
        Alarm.cleared_at.is_(None),
    )
    q = q.where(Alarm.door.is_(None) if door is None else Alarm.door == door)
    return db.session.scalars(q.order_by(Alarm.id)).first()


def raise_alarm(device, kind, at=None, door=None, source_key=None, details=None):
    """Record an alarm from a device; the same report again, or a repeat while it stands, adds no second alarm."""
    check_kind(kind)
    session = db.session
    if source_key is not None:
        source_key = str(source_key)[:64]
        seen = session.scalar(select(Alarm).where(Alarm.device_id == device.id, Alarm.source_key == source_key))
        if seen is not None:
            return seen
    standing = _open(device.id, kind, door)
    if standing is not None:
        standing.repeats += 1
        feed.announce(session, standing)
        return standing
    alarm = Alarm(
        site_id=device.site_id,
        device_id=device.id,
        kind=kind,
        door=door,
        source_key=source_key,
        details=dict(details or {}),
        raised_at=at or utcnow(),
    )
    session.add(alarm)
    session.flush()
    record("alarm.raise", "alarm", alarm.id, site_id=device.site_id, kind=kind, device_id=device.id, door=door)
    feed.announce(session, alarm)
    # The guards posted nearest the device are offered it first, everyone on shift a minute later.
    offer_to_guards(device.site, _building(device), subject="alarm", subject_id=alarm.id, now=alarm.raised_at)
    return alarm


def _building(device):
    return db.session.get(Building, device.building_id) if device.building_id is not None else None


def clear_alarm(device, kind, door=None, at=None):
    """The device says the condition ended (a held door closed): the standing alarm clears, its record stays."""
    if kind not in SELF_CLEARING:
        return None
    alarm = _open(device.id, kind, door)
    if alarm is None:
        return None
    alarm.cleared_at = at or utcnow()
    record("alarm.clear", "alarm", alarm.id, site_id=alarm.site_id, kind=kind, device_id=device.id)
    feed.announce(db.session, alarm)
    return alarm


def acknowledge(alarm, user):
    """A guard has seen the alarm; acknowledging twice keeps the first guard and time."""
    if alarm.acknowledged_at is None:
        alarm.acknowledged_at = utcnow()
        alarm.acknowledged_by_id = user.id
        record("alarm.acknowledge", "alarm", alarm.id, site_id=alarm.site_id, actor=user, kind=alarm.kind)
        feed.announce(db.session, alarm)
        close_offers("alarm", alarm.id)
    return alarm


#: The incident kind an alarm becomes (guards can change the incident afterwards).
INCIDENT_KINDS = {"fire_input": "fire_smoke", "door_forced": "suspicious_person", "duress": "suspicious_person"}


def to_incident(alarm, user, severity="high"):
    """One action: the alarm becomes an incident at its device (offered to the nearest guards) and is acknowledged."""
    from portal.incidents.models import Incident
    from portal.incidents.operations import create_incident

    if db.session.scalar(select(Incident.id).where(Incident.alarm_id == alarm.id, Incident.site_id == alarm.site_id)):
        raise Refused("already_incident", "This alarm is already an incident.", kind="conflict")
    device = alarm.device
    label = ALARM_LABELS[alarm.kind]
    incident = create_incident(
        device.site,
        INCIDENT_KINDS.get(alarm.kind, "damage" if alarm.kind == "tamper" else "other"),
        local_name(device) or device.name,
        str(label),
        severity,
        user,
        source="alarm",
        device=device,
        alarm_id=alarm.id,
    )
    acknowledge(alarm, user)
    return incident
