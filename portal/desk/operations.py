"""Desk writes: exceptions (from events and periodic checks), shifts and remote opens. They only flush."""

from datetime import timedelta

from sqlalchemy import select, update

from portal.audit.operations import record
from portal.core import validators as v
from portal.core.errors import Refused
from portal.core.timeutil import utcnow
from portal.desk.models import OUTCOMES, DeskCursor, DeskException, Shift
from portal.desk.queries import failed_pushes, vehicles_on_site
from portal.extensions import db

GROUP_WINDOW = timedelta(minutes=10)
EMERGENCIES = ("ambulance", "fire", "police")


def open_exception(site_id, kind, group_key, event=None, window=GROUP_WINDOW, **fields):
    """Open an exception, or count a repeat on the open one with the same key (window None: while open)."""
    now = utcnow()
    existing = db.session.scalar(
        db.select(DeskException)
        .where(DeskException.site_id == site_id, DeskException.group_key == group_key, DeskException.status != "closed")
        .order_by(DeskException.id.desc())
        .limit(1)
    )
    if existing is not None and (window is None or now - existing.last_seen_at <= window):
        existing.count += 1
        existing.last_seen_at = now
        if event is not None:
            existing.last_event_id = event.id
        return existing
    x = DeskException(
        site_id=site_id,
        kind=kind,
        group_key=group_key[:80],
        last_seen_at=now,
        first_event_id=event.id if event is not None else None,
        last_event_id=event.id if event is not None else None,
        **fields,
    )
    db.session.add(x)
    db.session.flush()
    return x


def count_exception_group(session, site_id, group_key, hits):
    """Add a group's noted events to its open exception in one statement, or open one (hits: [(kind, event, fields)])."""
    now, (kind, first, fields), last = utcnow(), hits[0], hits[-1][1]
    t = DeskException.__table__
    latest = session.execute(
        select(t.c.id, t.c.last_seen_at)
        .where(t.c.site_id == site_id, t.c.group_key == group_key, t.c.status != "closed")
        .order_by(t.c.id.desc())
        .limit(1)
    ).first()
    if latest is not None and now - latest.last_seen_at <= GROUP_WINDOW:
        session.execute(
            update(t)
            .where(t.c.id == latest.id)
            .values(count=t.c.count + len(hits), last_seen_at=now, last_event_id=last.id, updated_at=now)
        )
        return
    x = open_exception(site_id, kind, group_key, event=first, window=GROUP_WINDOW, **fields)  # none open: a new one
    x.count, x.last_event_id = len(hits), last.id  # flushed by the commit under way


def screen_name(site_id, name, anchor, details=None):
    """Flag a fuzzy watchlist name match for a human; it never denies by itself."""
    from portal.watchlist.operations import name_hits

    hits = name_hits(site_id, name)
    if not hits:
        return None
    info = dict(details or {}, watchlist_ids=[h.id for h in hits], watchlist_names=[h.name for h in hits])
    return open_exception(
        site_id, "name_match", f"name_match:{anchor}", window=None, details=info, pass_id=(details or {}).get("pass_id")
    )


def check_devices(now=None):
    """Devices offline or failed, and failed credential pushes, become exceptions; recovered devices close theirs."""
    from portal.devices.models import Device

    opened = 0
    for dev in db.session.scalars(db.select(Device)):
        key = f"device_offline:{dev.id}"
        open_x = db.session.scalar(
            db.select(DeskException).where(
                DeskException.site_id == dev.site_id, DeskException.group_key == key, DeskException.status != "closed"
            )
        )
        if dev.status in ("offline", "failed"):
            if open_x is None:
                open_exception(
                    dev.site_id,
                    "device_offline",
                    key,
                    window=None,
                    device_id=dev.id,
                    reason="error",
                    details={"status": dev.status},
                )
                opened += 1
        elif open_x is not None and dev.status == "online":
            auto_close(open_x, note="device back online")
    for dev_id, site_id, failed in failed_pushes():
        key = f"push_failed:{dev_id}"
        x = db.session.scalar(
            db.select(DeskException).where(
                DeskException.site_id == site_id, DeskException.group_key == key, DeskException.status != "closed"
            )
        )
        if x is None:
            open_exception(site_id, "push_failed", key, window=None, device_id=dev_id, details={"failed": failed})
            opened += 1
        else:
            x.details = dict(x.details or {}, failed=failed)
    return opened


def screen_new_passes():
    """Screen passes issued since the last run against watchlist names."""
    from portal.passes.models import Pass

    cursor = db.session.get(DeskCursor, "name_screen")
    if cursor is None:
        cursor = DeskCursor(name="name_screen", value=0)
        db.session.add(cursor)
    rows = db.session.scalars(db.select(Pass).where(Pass.id > cursor.value).order_by(Pass.id).limit(1000)).all()
    for p in rows:
        screen_name(p.site_id, p.visitor_name, f"pass:{p.id}", details={"pass_id": p.id, "unit": p.unit.label})
        cursor.value = p.id
    return len(rows)


def check_overstays(now=None):
    """Visitor vehicles parked longer than the site's limit become exceptions."""
    from portal.sites.models import Site

    now = now or utcnow()
    flagged = 0
    for site in db.session.scalars(db.select(Site)):
        for car in vehicles_on_site(site, now=now):
            if not car["overstay"]:
                continue
            key = f"overstay:{car['event_id']}"
            seen = db.session.scalar(
                db.select(DeskException.id).where(DeskException.site_id == site.id, DeskException.group_key == key).limit(1)
            )
            if seen is None:
                open_exception(
                    site.id,
                    "overstay",
                    key,
                    window=None,
                    gate_id=car["gate_id"],
                    pass_id=car["pass_id"],
                    details={"plate": car["plate"], "limit_minutes": car["limit_minutes"]},
                )
                flagged += 1
    return flagged


def take_exception(x, user):
    """A guard takes an exception so others see it is being handled."""
    if x.status == "closed":
        raise Refused("closed", "This exception is already closed.", kind="conflict")
    if x.status == "taken" and x.taken_by_id not in (None, user.id) and user.role == "guard":
        raise Refused("taken", "Another guard has taken this exception.", kind="conflict")
    x.status, x.taken_by_id, x.taken_at = "taken", user.id, utcnow()
    record("desk.exception.take", "desk_exception", x.id, site_id=x.site_id)
    return x


def close_exception(x, user, outcome, note=None):
    """Close with an outcome and an optional note of what was done."""
    errors = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = ("invalid_outcome", "Choose an outcome from the list.", {})
    note = v.collect(errors, "note", v.clean_text, note, max_len=1000, required=False, multiline=True)
    if errors:
        raise Refused("invalid", "Some fields are invalid.", fields=errors)
    if x.status == "closed":
        raise Refused("closed", "This exception is already closed.", kind="conflict")
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
    return db.session.scalar(
        db.select(Shift)
        .where(Shift.site_id == site_id, Shift.guard_id == user.id, Shift.ended_at.is_(None))
        .order_by(Shift.id.desc())
        .limit(1)
    )


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
    notes = v.check("notes", v.clean_text, notes, max_len=4000, required=False, multiline=True)
    shift = current_shift(user, site_id)
    if shift is None:
        raise Refused("no_shift", "You have no shift running.", kind="conflict")
    open_ids = db.session.scalars(
        db.select(DeskException.id)
        .where(DeskException.site_id == site_id, DeskException.status != "closed")
        .order_by(DeskException.id)
    ).all()
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
    reason = v.collect(errors, "reason", v.clean_text, reason, max_len=200, required=emergency is None)
    if kind not in ("open", "call_lift"):
        errors["kind"] = ("invalid_kind", "Kind must be open or call_lift.", {})
    if door is not None and (isinstance(door, bool) or not isinstance(door, int) or not 0 <= door <= 64):
        errors["door"] = ("invalid_door", "Door must be a small number.", {})
    if errors:
        raise Refused("invalid", "Some fields are invalid.", fields=errors)
    if emergency:
        reason = f"emergency:{emergency}" + (f" {reason}" if reason else "")
    if gate is None and device.gate_ids:
        from portal.sites.models import Gate

        gate = db.session.get(Gate, device.gate_ids[0])
    cmd = DeviceCommand(device_id=device.id, kind=kind, door=door, reason=reason[:200], requested_by_id=user.id, status="queued")
    db.session.add(cmd)
    db.session.flush()
    # What the live board shows of a remote open, kept with the event so a streamed row needs no lookup.
    details = {
        "command_id": cmd.id,
        "reason_text": reason,
        "device": device.name,
        "device_en": device.name_en,
        "door": door,
        "guard": user.display_name,
    }
    if emergency:
        details["emergency"] = emergency
    event = record_event(
        site_id=device.site_id,
        gate_id=gate.id if gate is not None else None,
        device_id=device.id,
        method="remote",
        decision="grant",
        reason="remote_open",
        source="desk",
        approved_by="guard",
        actor_id=user.id,
        direction="in",
        details=details,
    )
    record(
        "desk.remote_open",
        "device",
        device.id,
        site_id=device.site_id,
        command_id=cmd.id,
        event_id=event.id,
        reason=reason,
        emergency=emergency,
        kind=kind,
        door=door,
    )
    return cmd, event
