"""Patrol reads: schedules' due slots, a site's routes and rounds, the report, and the JSON shapes."""

from datetime import datetime, timedelta

from sqlalchemy import case, func

from portal.core.timeutil import as_utc, zone
from portal.extensions import db
from portal.patrol import stickers
from portal.patrol.models import Checkpoint, Hazard, Round, Scan
from portal.patrol.models import Route as PatrolRoute


def due_slots(route, now, lookback=timedelta(hours=24)):
    """UTC times in (now - lookback, now] when the route's schedule wants a round, in the site's zone."""
    from portal.sites.models import Site

    site = db.session.get(Site, route.site_id)
    tz = zone(site.timezone if site else None)
    local_now = as_utc(now).astimezone(tz)
    sched = route.schedule or {}
    if "times" in sched:
        times = sched["times"]
    elif "every_hours" in sched:
        h0, m0 = (int(x) for x in sched.get("from", "00:00").split(":"))
        times = [f"{(h0 + k) % 24:02d}:{m0:02d}" for k in range(0, 24, sched["every_hours"])]
    else:
        return []
    out = []
    for day in (local_now.date() - timedelta(days=1), local_now.date()):
        for t in times:
            h, m = (int(x) for x in t.split(":"))
            slot = datetime(day.year, day.month, day.day, h, m, tzinfo=tz).astimezone(as_utc(now).tzinfo)
            # Never before the route existed: a new route must not open a day of missed rounds at once.
            if max(now - lookback, as_utc(route.created_at)) < slot <= now:
                out.append(slot)
    return sorted(set(out))


def checkpoints(site_id, active_only=False):
    """A site's checkpoints by name."""
    q = db.select(Checkpoint).where(Checkpoint.site_id == site_id)
    if active_only:
        q = q.where(Checkpoint.active.is_(True))
    return db.session.scalars(q.order_by(Checkpoint.name, Checkpoint.id)).all()


def routes(site_id):
    """A site's active routes by name."""
    q = db.select(PatrolRoute).where(PatrolRoute.site_id == site_id, PatrolRoute.active.is_(True))
    return db.session.scalars(q.order_by(PatrolRoute.name, PatrolRoute.id)).all()


def rounds(site_id, limit=100, guard_id=None, statuses=None):
    """A site's latest rounds (optionally one guard's, some statuses)."""
    q = db.select(Round).where(Round.site_id == site_id)
    if guard_id is not None:
        q = q.where(Round.guard_id == guard_id)
    if statuses:
        q = q.where(Round.status.in_(statuses))
    order = func.coalesce(Round.started_at, Round.due_at, Round.created_at).desc()
    return db.session.scalars(q.order_by(order, Round.id.desc()).limit(limit)).all()


def hazards(site_id, status=None, limit=200, open_first=False):
    """A site's hazards, newest first; open_first (the page): open ones first, the longest open at the top."""
    q = db.select(Hazard).where(Hazard.site_id == site_id)
    if status:
        q = q.where(Hazard.status == status)
    # Ordered before the limit, so an old open hazard is never cut off by newer closed ones.
    order = (case((Hazard.status == "open", 0), else_=1), Hazard.found_at) if open_first else (Hazard.found_at.desc(),)
    return db.session.scalars(q.order_by(*order).limit(limit)).all()


def report(site_id, start, end):
    """Rounds due or started in [start, end): done on time, late, missed; checkpoints missed; hazards found and closed."""
    when = func.coalesce(Round.started_at, Round.due_at, Round.created_at)
    rows = db.session.scalars(db.select(Round).where(Round.site_id == site_id, when >= start, when < end)).all()
    closed = [r for r in rows if r.status in ("done", "missed")]
    expected = sum(len(r.plan or []) for r in closed)
    reached = db.session.scalar(db.select(func.count(Scan.id)).where(Scan.round_id.in_([r.id for r in closed] or [-1])))
    found = db.session.scalar(
        db.select(func.count(Hazard.id)).where(Hazard.site_id == site_id, Hazard.found_at >= start, Hazard.found_at < end)
    )
    fixed = db.session.scalar(
        db.select(func.count(Hazard.id)).where(Hazard.site_id == site_id, Hazard.closed_at >= start, Hazard.closed_at < end)
    )
    still_open = db.session.scalar(db.select(func.count(Hazard.id)).where(Hazard.site_id == site_id, Hazard.status == "open"))
    late_scans = db.session.scalar(
        db.select(func.count(Scan.id)).where(Scan.round_id.in_([r.id for r in closed] or [-1]), Scan.late.is_(True))
    )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "rounds": len(closed),
        "rounds_on_time": sum(1 for r in closed if r.on_time),
        "rounds_late": sum(1 for r in closed if r.status == "done" and not r.on_time),
        "rounds_missed": sum(1 for r in closed if r.status == "missed"),
        "rounds_under_way": sum(1 for r in rows if r.status in ("scheduled", "active")),
        "checkpoints_expected": expected,
        "checkpoints_missed": expected - (reached or 0),
        "checkpoints_late": late_scans or 0,
        "hazards_found": found or 0,
        "hazards_closed": fixed or 0,
        "hazards_open": still_open or 0,
    }


def missing_and_late(rnd):
    """(checkpoint ids not reached, checkpoint ids reached late) in route order."""
    reached = {s.checkpoint_id: s for s in rnd.scans}
    order = [p["checkpoint_id"] for p in rnd.plan or []] or [s.checkpoint_id for s in rnd.route.stops]
    return [c for c in order if c not in reached], [c for c in order if c in reached and reached[c].late]


def checkpoint_json(cp, with_code=False):
    """A checkpoint; managers also see what its sticker says."""
    out = {"id": cp.id, "name": cp.name, "active": cp.active}
    if with_code:
        out.update(payload=stickers.payload(cp), code=stickers.manual_code(cp))
    return out


def route_json(route):
    """A route with its stops in order."""
    return {
        "id": route.id,
        "name": route.name,
        "schedule": route.schedule or {},
        "grace_minutes": route.grace_minutes,
        "stops": [
            {"position": s.position, "checkpoint_id": s.checkpoint_id, "name": s.checkpoint.name, "minutes": s.minutes}
            for s in route.stops
        ],
    }


def _iso(value):
    return as_utc(value).isoformat() if value else None


def round_json(rnd):
    """A round with its plan, the scans that arrived and what is still missing."""
    missing, late = missing_and_late(rnd) if rnd.plan else ([], [])
    names = {s.checkpoint_id: s.checkpoint.name for s in rnd.route.stops}
    return {
        "id": rnd.id,
        "route_id": rnd.route_id,
        "route": rnd.route.name,
        "status": rnd.status,
        "guard_id": rnd.guard_id,
        "due_at": _iso(rnd.due_at),
        "started_at": _iso(rnd.started_at),
        "finished_at": _iso(rnd.finished_at),
        "deadline_at": _iso(rnd.deadline_at),
        "on_time": rnd.on_time,
        "plan": [dict(p, name=names.get(p["checkpoint_id"], "")) for p in rnd.plan or []],
        "scans": [
            {"checkpoint_id": s.checkpoint_id, "scanned_at": _iso(s.scanned_at), "late": s.late, "id": s.client_id}
            for s in rnd.scans
        ],
        "missing": missing,
        "late": late,
    }


def hazard_json(hz):
    """A hazard as staff see it."""
    return {
        "id": hz.id,
        "client_id": hz.client_id,
        "round_id": hz.round_id,
        "checkpoint_id": hz.checkpoint_id,
        "checkpoint": hz.checkpoint.name if hz.checkpoint is not None else None,
        "description": hz.description,
        "found_at": _iso(hz.found_at),
        "status": hz.status,
        "closed_at": _iso(hz.closed_at),
        "close_note": hz.close_note,
        "has_photo": hz.photo_type is not None,
        "incident_id": hz.incident_id,
        "reported_by": hz.reported_by.display_name if hz.reported_by is not None else None,
    }
