"""Patrol writes: rounds, synced scans, hazards; missed or late checkpoints go to the desk (setup: checkpoints.py)."""

import re
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from portal.audit.operations import record
from portal.core import validators as v
from portal.core.errors import Refused, ValidationFailed
from portal.core.errors import invalid_field as _field
from portal.core.timeutil import as_utc, parse_iso, utcnow
from portal.desk.models import DeskException
from portal.desk.operations import auto_close, open_exception
from portal.extensions import db
from portal.patrol import stickers
from portal.patrol.incidents import hazard_to_incident
from portal.patrol.models import Checkpoint, Hazard, Round, Scan
from portal.patrol.models import Route as PatrolRoute
from portal.patrol.queries import due_slots, missing_and_late

# A phone's clock may be off by this much; a scan time outside the round by more is refused, not trusted.
CLOCK_SKEW = timedelta(minutes=2)
# How long after a round's deadline the job waits for a phone that walked it offline before calling it missed.
SYNC_GRACE = timedelta(minutes=15)
MAX_BATCH = 200
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{8,64}")


def _plan(route, start):
    """Each stop's expected time from the start; the deadline is the last one plus the route's grace."""
    at, plan = start, []
    for stop in route.stops:
        at = at + timedelta(minutes=stop.minutes)
        plan.append({"checkpoint_id": stop.checkpoint_id, "expected_at": at.isoformat()})
    return plan, at + timedelta(minutes=route.grace_minutes)


def start_round(user, route, now=None):
    """A guard starts a round of a route: the scheduled one now due, or a new one."""
    now = now or utcnow()
    if not route.active or not route.stops:
        raise Refused("route_inactive", "This route has no checkpoints to walk.", kind="conflict")
    rnd = db.session.scalar(
        db.select(Round)
        .where(Round.route_id == route.id, Round.status == "scheduled", Round.due_at <= now + timedelta(minutes=30))
        .order_by(Round.due_at.desc())
        .limit(1)
    )
    if rnd is None:
        rnd = Round(site_id=route.site_id, route_id=route.id)
        db.session.add(rnd)
    rnd.plan, rnd.deadline_at = _plan(route, now)
    rnd.status, rnd.guard_id, rnd.started_at = "active", user.id, now
    db.session.flush()
    record("patrol.round_start", "patrol_round", rnd.id, site_id=rnd.site_id, route_id=route.id)
    return rnd


def _scan_time(raw, rnd, now):
    """The phone's scan time, if it falls inside the round (give or take a clock's skew) and not in the future."""
    try:
        at = parse_iso(raw)
    except (ValueError, TypeError):
        return None
    latest = now + CLOCK_SKEW
    if rnd.finished_at is not None:
        latest = min(latest, as_utc(rnd.finished_at) + CLOCK_SKEW)
    if at < as_utc(rnd.started_at) - CLOCK_SKEW or at > latest:
        return None
    return at


def _expected(rnd):
    return {p["checkpoint_id"]: parse_iso(p["expected_at"]) for p in rnd.plan or []}


def record_scans(user, rnd, items, now=None):
    """Apply a batch of scans made on the phone (maybe offline): each client id once, at its own time.

    Returns {"applied", "duplicates", "rejected"}; a bad scan is refused alone, the others still count.
    """
    now = now or utcnow()
    if rnd.status == "scheduled":
        raise Refused("not_started", "This round has not been started.", kind="conflict")
    if not isinstance(items, list) or len(items) > MAX_BATCH:
        raise _field("scans", "invalid", "Send 0 to %(n)s scans at a time.", n=MAX_BATCH)
    expected = _expected(rnd)
    known = {s.client_id: s for s in rnd.scans}
    reached = {s.checkpoint_id: s for s in rnd.scans}
    grace = timedelta(minutes=rnd.route.grace_minutes)
    out = {"applied": [], "duplicates": [], "rejected": []}
    for item in items:
        client_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
            out["rejected"].append({"id": client_id if isinstance(client_id, str) else None, "code": "bad_id"})
            continue
        if client_id in known:
            out["duplicates"].append(client_id)
            continue
        try:
            cp_id = stickers.read(item.get("payload") or item.get("code"), rnd.site_id)
        except Refused as exc:  # one bad sticker is rejected alone (reading it writes nothing); the batch goes on
            out["rejected"].append({"id": client_id, "code": exc.code})
            continue
        if cp_id not in expected:
            out["rejected"].append({"id": client_id, "code": "not_on_route"})
            continue
        at = _scan_time(item.get("scanned_at"), rnd, now)
        if at is None:
            out["rejected"].append({"id": client_id, "code": "bad_time"})
            continue
        if cp_id in reached:
            out["duplicates"].append(client_id)  # the checkpoint was reached already: the first scan counts
            continue
        scan = Scan(round_id=rnd.id, checkpoint_id=cp_id, client_id=client_id, scanned_at=at, received_at=now)
        scan.late = at > expected[cp_id] + grace
        if not _insert_once(scan):
            out["duplicates"].append(client_id)  # the same batch, sent twice at once: the other request stored it
            continue
        known[client_id] = reached[cp_id] = scan
        out["applied"].append(client_id)
    db.session.expire(rnd, ["scans"])
    if out["applied"]:
        record("patrol.scans", "patrol_round", rnd.id, site_id=rnd.site_id, applied=len(out["applied"]))
        if rnd.status in ("done", "missed"):
            settle(rnd)  # scans synced after the round closed: the desk's exception shrinks or closes
    return out


def _insert_once(row):
    """Insert under a savepoint; False when a unique key says a concurrent request (a retried sync) stored it first."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
        return True
    except IntegrityError:
        return False


def finish_round(user, rnd, finished_at=None, now=None):
    """The guard ends the round (the phone's time when it was queued offline); missed or late stops go to the desk."""
    now = now or utcnow()
    if rnd.status != "active":
        if rnd.status == "done":
            return rnd  # a retried finish changes nothing
        raise Refused("not_active", "This round is not under way.", kind="conflict")
    at = now
    if finished_at is not None:
        at = _scan_time(finished_at, rnd, now)
        if at is None:
            raise _field("finished_at", "bad_time", "This time is outside the round.")
    rnd.status, rnd.finished_at = "done", at
    settle(rnd)
    record("patrol.round_finish", "patrol_round", rnd.id, site_id=rnd.site_id, on_time=rnd.on_time)
    return rnd


def _names(ids):
    rows = dict(db.session.execute(db.select(Checkpoint.id, Checkpoint.name).where(Checkpoint.id.in_(ids or [-1]))).all())
    return [rows.get(i, "") for i in ids]


def settle(rnd):
    """Open, update or close the round's desk exceptions for missed and late checkpoints; set on_time."""
    missing, late = missing_and_late(rnd)
    finished_late = (
        rnd.finished_at is not None and rnd.deadline_at is not None and as_utc(rnd.finished_at) > as_utc(rnd.deadline_at)
    )
    if rnd.status == "missed" and not missing:
        rnd.status = "done"  # everything arrived after all (a phone that was offline)
    rnd.on_time = not missing and not late and rnd.status == "done" and not finished_late
    for kind, ids in (("patrol_missed", missing), ("patrol_late", late)):
        key = f"{kind}:{rnd.id}"
        open_x = db.session.scalar(
            db.select(DeskException).where(
                DeskException.site_id == rnd.site_id, DeskException.group_key == key, DeskException.status != "closed"
            )
        )
        details = {"round_id": rnd.id, "route": rnd.route.name, "checkpoint_ids": ids, "checkpoints": _names(ids)}
        if ids and open_x is None:
            seen = db.session.scalar(
                db.select(DeskException.id).where(DeskException.site_id == rnd.site_id, DeskException.group_key == key).limit(1)
            )
            if seen is None:  # a guard closed it already: not opened again by a retried sync
                open_exception(rnd.site_id, kind, key, window=None, reason=None, details=details)
        elif ids:
            open_x.details = details
        elif open_x is not None:
            auto_close(open_x, note="checkpoints synced from the phone")


def close_overdue(now=None):
    """Rounds past their deadline (plus time for an offline phone to sync) close as missed; unstarted ones too."""
    now = now or utcnow()
    closed = 0
    started = db.session.scalars(
        db.select(Round).where(Round.status == "active", Round.deadline_at < now - SYNC_GRACE).limit(500)
    ).all()
    for rnd in started:
        rnd.status = "missed"
        settle(rnd)
        record("patrol.round_overdue", "patrol_round", rnd.id, site_id=rnd.site_id)
        closed += 1
    waiting = db.session.scalars(db.select(Round).where(Round.status == "scheduled", Round.due_at < now).limit(500)).all()
    for rnd in waiting:
        plan, deadline = _plan(rnd.route, as_utc(rnd.due_at))
        if deadline >= now - SYNC_GRACE:
            continue
        rnd.plan, rnd.deadline_at, rnd.status = plan, deadline, "missed"
        settle(rnd)
        record("patrol.round_not_walked", "patrol_round", rnd.id, site_id=rnd.site_id)
        closed += 1
    return closed


def schedule_rounds(now=None):
    """Make the rounds each route's schedule has due by now (the last 24 hours' slots; one per slot)."""
    now = now or utcnow()
    made = 0
    for route in db.session.scalars(db.select(PatrolRoute).where(PatrolRoute.active.is_(True))):
        if not route.schedule:
            continue
        for slot in due_slots(route, now):
            if db.session.scalar(db.select(Round.id).where(Round.route_id == route.id, Round.due_at == slot)) is not None:
                continue
            try:
                with db.session.begin_nested():
                    db.session.add(Round(site_id=route.site_id, route_id=route.id, due_at=slot, status="scheduled"))
                made += 1
            except IntegrityError:  # another worker made it first
                pass
    return made


def add_hazard(user, site, data, photo=None, rnd=None, now=None):
    """A hazard a guard found; a retried upload (same client id) returns the first one."""
    now = now or utcnow()
    client_id = data.get("id")
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise _field("id", "bad_id", "A client id of 8 to 64 letters, digits or -_.: is required.")
    same = db.session.scalar(db.select(Hazard).where(Hazard.reported_by_id == user.id, Hazard.client_id == client_id))
    if same is not None:
        return same, False
    errors = {}
    description = v.collect(errors, "description", v.clean_text, data.get("description"), max_len=2000, multiline=True)
    if errors:
        raise ValidationFailed(errors)
    found_at = now
    if data.get("found_at"):
        try:
            found_at = parse_iso(data.get("found_at"))
        except (ValueError, TypeError):
            raise _field("found_at", "invalid", "A time with its offset, e.g. 2026-01-01T08:00:00+08:00.") from None
        if found_at > now + CLOCK_SKEW or found_at < now - timedelta(days=2):
            raise _field("found_at", "bad_time", "This time is outside the round.")
    checkpoint_id = None
    if data.get("payload") or data.get("code"):
        checkpoint_id = stickers.read(data.get("payload") or data.get("code"), site.id)
    elif rnd is not None and data.get("checkpoint_id") not in (None, ""):
        raw = data.get("checkpoint_id")
        checkpoint_id = int(raw) if str(raw).isdigit() and int(raw) in _expected(rnd) else None
        if checkpoint_id is None:
            raise _field("checkpoint_id", "not_on_route", "Choose a checkpoint of this round.")
    hz = Hazard(
        site_id=site.id,
        round_id=rnd.id if rnd is not None else None,
        checkpoint_id=checkpoint_id,
        reported_by_id=user.id,
        client_id=client_id,
        description=description,
        found_at=found_at,
        photo=photo.data if photo is not None else None,
        photo_type=photo.content_type if photo is not None else None,
    )
    if not _insert_once(hz):
        same = db.session.scalar(db.select(Hazard).where(Hazard.reported_by_id == user.id, Hazard.client_id == client_id))
        return same, False
    record("patrol.hazard_add", "patrol_hazard", hz.id, site_id=site.id, round_id=hz.round_id, photo=photo is not None)
    hz.incident_id = hazard_to_incident(hz, user, [photo] if photo is not None else [])
    return hz, True


def close_hazard(user, hz, note):
    """A manager or guard records how a hazard was dealt with."""
    if hz.status == "closed":
        raise Refused("closed", "This hazard is already closed.", kind="conflict")
    errors = {}
    note = v.collect(errors, "note", v.clean_text, note, max_len=2000, multiline=True)
    if errors:
        raise ValidationFailed(errors)
    hz.status, hz.closed_at, hz.closed_by_id, hz.close_note = "closed", utcnow(), user.id, note
    record("patrol.hazard_close", "patrol_hazard", hz.id, site_id=hz.site_id)
    return hz


def purge_hazard_photos(now=None, batch=200):
    """Photos of hazards closed longer ago than their site's patrol-photo retention are dropped; safe to re-run."""
    from sqlalchemy import update

    from portal.privacy.queries import cutoffs

    now = now or utcnow()
    total = 0
    for sites, cutoff, days in cutoffs("patrol_photos", now):
        ids = db.session.scalars(
            db.select(Hazard.id)
            .where(sites(Hazard.site_id), Hazard.status == "closed", Hazard.closed_at < cutoff, Hazard.photo_type.is_not(None))
            .limit(batch)
        ).all()
        if ids:
            db.session.execute(update(Hazard).where(Hazard.id.in_(ids)).values(photo=None, photo_type=None))
            record("patrol.photo_purge", "patrol_hazard", None, hazard_ids=ids, retention_days=days)
            total += len(ids)
    return total
