"""Patrol setup: checkpoints, and the routes through them with their schedules."""

import re

from portal.audit.operations import record
from portal.core import validators as v
from portal.core.errors import ValidationFailed
from portal.core.errors import invalid_field as _field
from portal.extensions import db
from portal.patrol.models import Checkpoint, RouteStop
from portal.patrol.models import Route as PatrolRoute

MAX_STOPS = 50
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def add_checkpoint(user, site, name):
    """A new checkpoint; its sticker is printed from the stickers page."""
    errors = {}
    name = v.collect(errors, "name", v.clean_text, name, max_len=80)
    if errors:
        raise ValidationFailed(errors)
    cp = Checkpoint(site_id=site.id, name=name)
    db.session.add(cp)
    db.session.flush()
    record("patrol.checkpoint_add", "patrol_checkpoint", cp.id, site_id=site.id, name=name)
    return cp


def _schedule(raw):
    """{"times": [...]} or {"every_hours": n, "from": "HH:MM"} or {}; anything else is a 400."""
    if raw in (None, {}, ""):
        return {}
    if not isinstance(raw, dict):
        raise _field("schedule", "invalid", "Give times of day or every how many hours.")
    times, every = raw.get("times"), raw.get("every_hours")
    if times is not None and every is None:
        if (
            not isinstance(times, list)
            or not 1 <= len(times) <= 48
            or not all(isinstance(t, str) and _HHMM.fullmatch(t) for t in times)
        ):
            raise _field("schedule", "invalid", "Times of day are HH:MM, at most 48.")
        return {"times": sorted(set(times))}
    if every is not None and times is None:
        start = raw.get("from", "00:00")
        if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 24:
            raise _field("schedule", "invalid", "Every 1 to 24 hours.")
        if not isinstance(start, str) or not _HHMM.fullmatch(start):
            raise _field("schedule", "invalid", "Times of day are HH:MM, at most 48.")
        return {"every_hours": every, "from": start}
    raise _field("schedule", "invalid", "Give times of day or every how many hours.")


def add_route(user, site, name, stops, schedule=None, grace_minutes=5):
    """A route through the site's checkpoints in order: stops are [(checkpoint id, minutes after the previous)]."""
    errors = {}
    name = v.collect(errors, "name", v.clean_text, name, max_len=80)
    if errors:
        raise ValidationFailed(errors)
    if not isinstance(stops, list) or not 1 <= len(stops) <= MAX_STOPS:
        raise _field("stops", "invalid", "A route has 1 to %(n)s checkpoints.", n=MAX_STOPS)
    if isinstance(grace_minutes, bool) or not isinstance(grace_minutes, int) or not 0 <= grace_minutes <= 120:
        raise _field("grace_minutes", "invalid", "Between 0 and 120 minutes.")
    rows = []
    for stop in stops:
        cp_id, minutes = (stop.get("checkpoint_id"), stop.get("minutes", 0)) if isinstance(stop, dict) else (None, None)
        cp = (
            db.session.get(Checkpoint, cp_id)
            if isinstance(cp_id, int) and not isinstance(cp_id, bool) and 0 < cp_id < 2**31
            else None
        )
        if cp is None or cp.site_id != site.id or not cp.active:
            raise _field("stops", "invalid_checkpoint", "Choose checkpoints of this community.")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 720:
            raise _field("stops", "invalid", "Minutes between checkpoints are 0 to 720.")
        rows.append((cp.id, minutes))
    route = PatrolRoute(site_id=site.id, name=name, schedule=_schedule(schedule), grace_minutes=grace_minutes)
    route.stops = [RouteStop(position=i, checkpoint_id=cp_id, minutes=m) for i, (cp_id, m) in enumerate(rows)]
    db.session.add(route)
    db.session.flush()
    record("patrol.route_add", "patrol_route", route.id, site_id=site.id, name=name, stops=rows, schedule=route.schedule)
    return route
