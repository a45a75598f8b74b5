"""Incident writes: report, acknowledge, on scene, resolve with a report, assign, photos. They only flush."""

from sqlalchemy import update

from portal.accounts.models import STAFF_ROLES, User
from portal.audit.operations import record
from portal.core import validators as v
from portal.core.converters import is_id
from portal.core.errors import Refused, ValidationFailed
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.feedback.uploads import MAX_PHOTOS
from portal.incidents.models import (
    ESCALATING,
    KINDS,
    SEVERITIES,
    SOURCES,
    Incident,
    IncidentAssignee,
    IncidentEvent,
    IncidentPhoto,
)
from portal.shifts.operations import close_offers, offer_to_guards
from portal.sites.models import Building

MAX_PHOTOS_PER_INCIDENT = 12
MAX_TEXT = 4000


def _choice(errors, name, value, allowed, message):
    if value not in allowed:
        errors[name] = ("invalid_choice", message, {})
    return value


def validate(kind, location, description, severity, source="desk"):
    """The checked values of a report, or one ValidationFailed naming every bad field."""
    errors = {}
    _choice(errors, "kind", kind, KINDS, "Choose a kind of incident from the list.")
    _choice(errors, "severity", severity, SEVERITIES, "Choose low, normal, high or critical.")
    _choice(errors, "source", source, SOURCES, "Choose where the report came from.")
    location = v.collect(errors, "location", v.clean_text, location, max_len=120)
    description = v.collect(errors, "description", v.clean_text, description, max_len=MAX_TEXT, multiline=True)
    if errors:
        raise ValidationFailed(errors)
    return location, description


def _event(incident, action, actor=None, note=None, at=None, **details):
    ev = IncidentEvent(
        incident_id=incident.id,
        action=action,
        actor_id=actor.id if actor else None,
        at=at or utcnow(),
        note=note,
        details=details,
    )
    db.session.add(ev)
    return ev


def create_incident(
    site, kind, location, description, severity, reporter, source="desk", device=None, building=None, alarm_id=None, photos=()
):
    """Log an incident; high and critical ones are offered to the nearest guards on shift at once.

    The alarms desk calls this with source="alarm", the device and the alarm's id to turn an alarm into an incident.
    """
    location, description = validate(kind, location, description, severity, source)
    if building is not None and building.site_id != site.id:
        raise ValidationFailed({"building_id": ("invalid_building", "Choose a building of this community.", {})})
    if device is not None and device.site_id != site.id:
        raise ValidationFailed({"device_id": ("invalid_device", "Choose a device of this community.", {})})
    if len(photos) > MAX_PHOTOS:
        raise Refused("too_many_photos", "At most 3 photos per filing.")
    if building is None and device is not None and device.building_id is not None:
        building = db.session.get(Building, device.building_id)
    now = utcnow()
    inc = Incident(
        site_id=site.id,
        kind=kind,
        severity=severity,
        status="open",
        source=source,
        location=location,
        description=description,
        building_id=building.id if building is not None else None,
        device_id=device.id if device is not None else None,
        alarm_id=alarm_id,
        reported_by_id=reporter.id if reporter is not None else None,
        reported_at=now,
    )
    db.session.add(inc)
    db.session.flush()
    _event(inc, "reported", reporter, at=now, severity=severity)
    _store_photos(inc, reporter, photos)
    record(
        "incident.report", "incident", inc.id, site_id=site.id, kind=kind, severity=severity, source=source, photos=len(photos)
    )
    if severity in ESCALATING:
        offered = offer_to_guards(site, building, subject="incident", subject_id=inc.id, now=now)
        if offered:
            _event(inc, "offered", at=now, guards=[g.id for g in offered])
    return inc


def _store_photos(inc, user, photos):
    for photo in photos:
        db.session.add(IncidentPhoto.of(photo, incident_id=inc.id, added_by_id=user.id if user is not None else None))
        _event(inc, "photo", user)


def add_photos(inc, user, photos):
    """Add cleaned photos to an incident (at most MAX_PHOTOS_PER_INCIDENT in all)."""
    if not photos:
        raise Refused("no_photos", "Choose at least one photo.", fields={"photos": ("required", "Choose at least one photo.")})
    have = db.session.scalar(db.select(db.func.count(IncidentPhoto.id)).where(IncidentPhoto.incident_id == inc.id))
    if have + len(photos) > MAX_PHOTOS_PER_INCIDENT:
        raise Refused("too_many_photos", "An incident keeps at most %(n)s photos.", kind="conflict", n=MAX_PHOTOS_PER_INCIDENT)
    _store_photos(inc, user, photos)
    db.session.flush()
    record("incident.photos", "incident", inc.id, site_id=inc.site_id, photos=len(photos))
    return inc


def _note(note):
    errors = {}
    note = v.collect(errors, "note", v.clean_text, note, max_len=MAX_TEXT, required=False, multiline=True)
    if errors:
        raise ValidationFailed(errors)
    return note


def _claim(inc, column, user, now):
    """Set a timeline column once: a conditional UPDATE, so two guards tapping together record one of them."""
    by = {"acknowledged_at": "acknowledged_by_id", "on_scene_at": "on_scene_by_id", "resolved_at": "resolved_by_id"}[column]
    col = getattr(Incident, column)
    done = db.session.execute(
        update(Incident).where(Incident.id == inc.id, col.is_(None)).values({column: now, by: user.id}),
        execution_options={"synchronize_session": False},
    )
    db.session.refresh(inc)
    return done.rowcount == 1


def _open(inc):
    if inc.status == "resolved":
        raise Refused("incident_resolved", "This incident is resolved.", kind="conflict")


def acknowledge(inc, user, note=None):
    """Someone has it: the escalation stops and the offers to other guards close."""
    _open(inc)
    note, now = _note(note), utcnow()
    if not _claim(inc, "acknowledged_at", user, now):
        raise Refused("already_acknowledged", "Someone has already acknowledged this incident.", kind="conflict")
    inc.status = "acknowledged" if inc.on_scene_at is None else inc.status
    close_offers("incident", inc.id, now)
    _event(inc, "acknowledged", user, note, at=now)
    record("incident.acknowledge", "incident", inc.id, site_id=inc.site_id)
    return inc


def on_scene(inc, user, note=None):
    """A guard is there (acknowledging too, when nobody had)."""
    _open(inc)
    note, now = _note(note), utcnow()
    if _claim(inc, "acknowledged_at", user, now):
        close_offers("incident", inc.id, now)
        _event(inc, "acknowledged", user, at=now)
    if not _claim(inc, "on_scene_at", user, now):
        raise Refused("already_on_scene", "Someone is already on scene.", kind="conflict")
    inc.status = "on_scene"
    _event(inc, "on_scene", user, note, at=now)
    record("incident.on_scene", "incident", inc.id, site_id=inc.site_id)
    return inc


def resolve(inc, user, report):
    """Close the incident with the closing report (what happened, what was done)."""
    _open(inc)
    errors = {}
    report = v.collect(errors, "report", v.clean_text, report, max_len=MAX_TEXT, multiline=True)
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    if _claim(inc, "acknowledged_at", user, now):
        close_offers("incident", inc.id, now)
        _event(inc, "acknowledged", user, at=now)
    if not _claim(inc, "resolved_at", user, now):
        raise Refused("incident_resolved", "This incident is resolved.", kind="conflict")
    inc.status, inc.closing_report = "resolved", report
    _event(inc, "resolved", user, report, at=now)
    record("incident.resolve", "incident", inc.id, site_id=inc.site_id)
    return inc


def assign(inc, by, user_id):
    """Put a guard or manager of the site on the incident (once)."""
    _open(inc)
    person = db.session.get(User, user_id) if is_id(user_id) else None
    if person is None or not person.active or person.role not in STAFF_ROLES or person.site_id != inc.site_id:
        raise ValidationFailed({"user_id": ("invalid_user", "Choose a guard or manager of this community.", {})})
    if any(a.user_id == person.id for a in inc.assignees):
        raise Refused("already_assigned", "This person is already on the incident.", kind="conflict")
    inc.assignees.append(IncidentAssignee(user_id=person.id, assigned_by_id=by.id))
    _event(inc, "assigned", by, user_id=person.id)
    db.session.flush()
    record("incident.assign", "incident", inc.id, site_id=inc.site_id, user_id=person.id)
    return inc
