"""Desk writes: exceptions, shifts and remote opens. Views and hooks call these; they only flush."""
from datetime import timedelta

from portal.audit.operations import record
from portal.core import validators as v
from portal.core.errors import ApiError, ValidationFailed
from portal.core.timeutil import utcnow
from portal.desk.models import OUTCOMES, DeskException, Shift
from portal.extensions import db

GROUP_WINDOW = timedelta(minutes=10)
EMERGENCIES = ("ambulance", "fire", "police")


def raise_exception(site_id, kind, group_key, event=None, window=GROUP_WINDOW, **fields):
    """Open an exception, or count a repeat on the open one with the same key (window None: while open)."""
    now = utcnow()
    existing = db.session.scalar(
        db.select(DeskException).where(DeskException.site_id == site_id, DeskException.group_key == group_key,
                                       DeskException.status != "closed").order_by(DeskException.id.desc()).limit(1))
    if existing is not None and (window is None or now - existing.last_seen_at <= window):
        existing.count += 1
        existing.last_seen_at = now
        if event is not None:
            existing.last_event_id = event.id
        return existing
    x = DeskException(site_id=site_id, kind=kind, group_key=group_key[:80], last_seen_at=now,
                      first_event_id=event.id if event is not None else None,
                      last_event_id=event.id if event is not None else None, **fields)
    db.session.add(x)
    db.session.flush()
    return x


def take_exception(x, user):
    """A guard takes an exception so others see it is being handled."""
    if x.status == "closed":
        raise ApiError(409, "closed", "This exception is already closed.")
    if x.status == "taken" and x.taken_by_id not in (None, user.id) and user.role == "guard":
        raise ApiError(409, "taken", "Another guard has taken this exception.")
    x.status, x.taken_by_id, x.taken_at = "taken", user.id, utcnow()
    record("desk.exception.take", "desk_exception", x.id, site_id=x.site_id)
    return x


def close_exception(x, user, outcome, note=None):
    """Close with an outcome and an optional note of what was done."""
    errors = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = ("invalid_outcome", "Choose an outcome from the list.", {})
    try:
        note = v.clean_text(note, max_len=1000, required=False, multiline=True)
    except v.FieldError as exc:
        errors["note"] = exc.as_tuple()
    if errors:
        raise ValidationFailed(errors)
    if x.status == "closed":
        raise ApiError(409, "closed", "This exception is already closed.")
    now = utcnow()
    if x.taken_by_id is None:
        x.taken_by_id, x.taken_at = user.id, now
    x.status, x.outcome, x.note, x.closed_by_id, x.closed_at = "closed", outcome, note, user.id, now
    record("desk.exception.close", "desk_exception", x.id, site_id=x.site_id, outcome=outcome)
    return x


def auto_close(x, outcome="auto_resolved", note=None):
    """Close an exception that resolved itself (a device came back)."""
    x.status, x.outcome, x.note, x.closed_at = "closed", outcome, note, utcnow()
    record("desk.exception.close", "desk_exception", x.id, site_id=x.site_id, outcome=outcome, automatic=True)


def current_shift(user, site_id):
    """The user's shift at the site that has not ended, or None."""
    return db.session.scalar(db.select(Shift).where(Shift.site_id == site_id, Shift.guard_id == user.id,
                                                    Shift.ended_at.is_(None)).order_by(Shift.id.desc()).limit(1))


def start_shift(user, site_id):
    """Start a shift (idempotent while one is running)."""
    shift = current_shift(user, site_id)
    if shift is None:
        shift = Shift(site_id=site_id, guard_id=user.id, started_at=utcnow(), open_exception_ids=[])
        db.session.add(shift)
        db.session.flush()
        record("desk.shift.start", "desk_shift", shift.id, site_id=site_id)
    return shift


def end_shift(user, site_id, notes):
    """End the shift with handover notes; the open exceptions go with them to the next shift."""
    try:
        notes = v.clean_text(notes, max_len=4000, required=False, multiline=True)
    except v.FieldError as exc:
        raise ValidationFailed({"notes": exc.as_tuple()}) from None
    shift = current_shift(user, site_id)
    if shift is None:
        raise ApiError(409, "no_shift", "You have no shift running.")
    open_ids = db.session.scalars(db.select(DeskException.id).where(
        DeskException.site_id == site_id, DeskException.status != "closed").order_by(DeskException.id)).all()
    shift.ended_at, shift.notes, shift.open_exception_ids = utcnow(), notes, list(open_ids)
    record("desk.shift.end", "desk_shift", shift.id, site_id=site_id, open_exceptions=len(open_ids))
    return shift


def remote_open(user, device, reason, door=None, gate=None, emergency=None, kind="open"):
    """Queue an open (or lift call) for the bridge; audited and recorded as an access event. Never a pass."""
    from portal.devices.models import DeviceCommand
    from portal.events.operations import record_event

    errors = {}
    if emergency is not None and emergency not in EMERGENCIES:
        errors["emergency"] = ("invalid_emergency", "Emergency must be ambulance, fire or police.", {})
    try:
        reason = v.clean_text(reason, max_len=200, required=emergency is None)
    except v.FieldError as exc:
        errors["reason"] = exc.as_tuple()
    if kind not in ("open", "call_lift"):
        errors["kind"] = ("invalid_kind", "Kind must be open or call_lift.", {})
    if door is not None and (isinstance(door, bool) or not isinstance(door, int) or not 0 <= door <= 64):
        errors["door"] = ("invalid_door", "Door must be a small number.", {})
    if errors:
        raise ValidationFailed(errors)
    if emergency:
        reason = f"emergency:{emergency}" + (f" {reason}" if reason else "")
    if gate is None and device.gate_ids:
        from portal.sites.models import Gate

        gate = db.session.get(Gate, device.gate_ids[0])
    cmd = DeviceCommand(device_id=device.id, kind=kind, door=door, reason=reason[:200], requested_by_id=user.id,
                        status="queued")
    db.session.add(cmd)
    db.session.flush()
    details = {"command_id": cmd.id, "reason_text": reason, "device": device.name}
    if emergency:
        details["emergency"] = emergency
    event = record_event(site_id=device.site_id, gate_id=gate.id if gate is not None else None, device_id=device.id,
                         method="remote", decision="grant", reason="remote_open", source="desk", approved_by="guard",
                         actor_id=user.id, direction="in", details=details)
    record("desk.remote_open", "device", device.id, site_id=device.site_id, command_id=cmd.id, event_id=event.id,
           reason=reason, emergency=emergency, kind=kind, door=door)
    return cmd, event
