"""KPI arithmetic for one site and one period, compared with the period before.

The definitions are in docs/reports.md (a short form is shown on the page).
"""

from collections import Counter
from datetime import datetime
from statistics import median

from sqlalchemy import Integer, and_, case, cast, func, or_

from portal.core.timeutil import UTC, utcnow
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.feedback.models import Complaint, Survey
from portal.reports import team
from portal.sites.models import Building, Unit

DEFAULT_TARGET = 0.95
AIM_RESPONSE = -0.20  # seed: response time down 20%
AIM_COMPLAINTS = -0.15  # seed: complaint rate down 15%


def ratio(part, whole):
    """part / whole, or None when there is nothing to divide by."""
    return None if not whole else part / whole


def change(current, previous):
    """Relative change from previous to current, or None when it cannot be computed."""
    if current is None or previous in (None, 0):
        return None
    return (current - previous) / previous


def aim_met(delta, aim):
    """Whether a relative change reached a (negative) aim; None when unknown."""
    return None if delta is None else delta <= aim + 1e-12


def target_for(site):
    """The satisfaction target of a site (Site.settings["satisfaction_target"], default 95%)."""
    value = (site.settings or {}).get("satisfaction_target")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1 else DEFAULT_TARGET


def unit_count(site_id):
    """Units of a site."""
    q = db.select(func.count(Unit.id)).join(Building, Unit.building_id == Building.id).where(Building.site_id == site_id)
    return db.session.scalar(q) or 0


def satisfaction(site_id, period):
    """Answered surveys, satisfied ones, and the rate; also per survey kind."""
    rows = db.session.execute(
        db.select(Survey.kind, Survey.score).where(
            Survey.site_id == site_id, Survey.answered_at >= period.start, Survey.answered_at < period.end
        )
    ).all()

    def part(items):
        happy = sum(1 for _, score in items if score >= 4)
        return {"answered": len(items), "satisfied": happy, "rate": ratio(happy, len(items))}

    out = part(rows)
    out["by_kind"] = {kind: part([r for r in rows if r[0] == kind]) for kind in ("visit", "complaint")}
    out["scores"] = {str(n): sum(1 for _, s in rows if s == n) for n in range(1, 6)}
    return out


def _filings(site_id, period):
    return db.session.execute(
        db.select(
            Complaint.kind,
            Complaint.category,
            Complaint.created_at,
            Complaint.first_response_at,
            Complaint.resolved_at,
            Complaint.closed_at,
        ).where(Complaint.site_id == site_id, Complaint.created_at >= period.start, Complaint.created_at < period.end)
    ).all()


def _hours(pairs):
    values = [(b - a).total_seconds() / 3600 for a, b in pairs if b is not None]
    return median(values) if values else None


def filings(site_id, period, units):
    """Complaint counts per month and per 100 units, and median answer and resolution times."""
    rows = _filings(site_id, period)
    complaints = [r for r in rows if r.kind == "complaint"]
    months = Counter(r.created_at.astimezone(period.zone).strftime("%Y-%m") for r in complaints)
    by_month = [
        {"month": m, "count": months.get(m, 0), "per_100_units": _per100(months.get(m, 0), units)} for m in period.months()
    ]
    resolved_at = [(r.created_at, r.resolved_at or r.closed_at) for r in rows]
    return {
        "complaints": len(complaints),
        "suggestions": len(rows) - len(complaints),
        "units": units,
        "per_100_units": _per100(len(complaints), units),
        "by_month": by_month,
        "by_category": dict(Counter(r.category for r in complaints)),
        "answered": sum(1 for r in rows if r.first_response_at is not None),
        "unanswered": sum(1 for r in rows if r.first_response_at is None),
        "median_first_response_hours": _hours((r.created_at, r.first_response_at) for r in rows),
        "median_resolution_hours": _hours(resolved_at),
    }


def _per100(count, units):
    value = ratio(count * 100, units)
    return None if value is None else round(value, 4)


BUCKET_SECONDS = 900  # every real time zone is a whole number of quarter hours from UTC


def _bucket():
    """Quarter-hour bucket of an event, computed in the database (UTC is stored naive)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.floor(func.extract("epoch", AccessEvent.at) / BUCKET_SECONDS)
    return cast(func.strftime("%s", AccessEvent.at), Integer) // BUCKET_SECONDS


def entries(site_id, period):
    """Granted entries, guard approvals, denials by reason, per local day and hour."""
    where = (AccessEvent.site_id == site_id, AccessEvent.at >= period.start, AccessEvent.at < period.end)
    going_in = or_(AccessEvent.direction.is_(None), AccessEvent.direction != "out")
    walk_in, guard = AccessEvent.method == "walk_in", AccessEvent.approved_by == "guard"

    def flag(cond):
        return func.sum(case((cond, 1), else_=0))

    # One pass over the granted entries, grouped by quarter hour; local days and hours are derived from the buckets,
    # which keeps the database work the same on SQLite and PostgreSQL and exact in any zone.
    bucket = _bucket().label("bucket")
    rows = db.session.execute(
        db.select(bucket, func.count(AccessEvent.id), flag(walk_in), flag(guard), flag(and_(walk_in, guard)))
        .where(*where, AccessEvent.decision == "grant", going_in)
        .group_by(bucket)
    ).all()
    denied = dict(
        db.session.execute(
            db.select(AccessEvent.reason, func.count(AccessEvent.id))
            .where(*where, AccessEvent.decision == "deny")
            .group_by(AccessEvent.reason)
        ).all()
    )
    tz = period.zone
    per_day, per_hour = Counter(), Counter()
    total = walk_ins = guarded = guard_walk_ins = 0
    for b, n, w, g, gw in rows:
        moment = datetime.fromtimestamp(int(b) * BUCKET_SECONDS, UTC).astimezone(tz)
        per_day[moment.date()] += n
        per_hour[moment.hour] += n
        total, walk_ins, guarded, guard_walk_ins = total + n, walk_ins + (w or 0), guarded + (g or 0), guard_walk_ins + (gw or 0)
    by_hour = [per_hour.get(h, 0) for h in range(24)]
    peak = sorted((h for h in range(24) if by_hour[h]), key=lambda h: (-by_hour[h], h))[:3]
    return {
        "granted": total,
        "denied": sum(denied.values()),
        "walk_ins": walk_ins,
        "guard_approved": guarded,
        "guard_approved_walk_ins": guard_walk_ins,
        "guard_share_of_walk_ins": ratio(guard_walk_ins, walk_ins),
        "guard_share_of_entries": ratio(guarded, total),
        "denied_by_reason": dict(sorted(denied.items(), key=lambda kv: (-kv[1], kv[0]))),
        "per_day": [{"date": d.isoformat(), "count": per_day.get(d, 0)} for d in period.dates()],
        "by_hour": by_hour,
        "peak_hours": peak,
    }


def kpi(site, period, previous=None):
    """Every KPI for the period, next to the previous period of the same length and the targets."""
    previous = previous or period.previous()
    units = unit_count(site.id)
    sat, sat_prev = satisfaction(site.id, period), satisfaction(site.id, previous)
    cur, prev = filings(site.id, period, units), filings(site.id, previous, units)
    target = target_for(site)
    response_change = change(cur["median_first_response_hours"], prev["median_first_response_hours"])
    complaints_change = change(cur["complaints"], prev["complaints"])
    return {
        "site": {"id": site.id, "slug": site.slug, "name": site.name, "units": units},
        "period": period.as_json(),
        "previous_period": previous.as_json(),
        "satisfaction": {
            **sat,
            "target": target,
            "met": None if sat["rate"] is None else sat["rate"] >= target,
            "previous_rate": sat_prev["rate"],
        },
        "complaints": {k: cur[k] for k in ("complaints", "suggestions", "units", "per_100_units", "by_month", "by_category")}
        | {
            "previous": prev["complaints"],
            "change": complaints_change,
            "aim": AIM_COMPLAINTS,
            "aim_met": aim_met(complaints_change, AIM_COMPLAINTS),
        },
        "response": {
            "answered": cur["answered"],
            "unanswered": cur["unanswered"],
            "median_first_response_hours": cur["median_first_response_hours"],
            "previous_median_first_response_hours": prev["median_first_response_hours"],
            "change": response_change,
            "aim": AIM_RESPONSE,
            "aim_met": aim_met(response_change, AIM_RESPONSE),
            "median_resolution_hours": cur["median_resolution_hours"],
            "previous_median_resolution_hours": prev["median_resolution_hours"],
            "resolution_change": change(cur["median_resolution_hours"], prev["median_resolution_hours"]),
        },
        "entries": entries(site.id, period),
        # The security team's own figures (portal/reports/team.py); the complaint ones above keep their targets.
        "incidents": team.incidents(site.id, period),
        "alarms": team.alarms(site.id, period),
        "devices": team.devices(site.id, period, utcnow()),
        "drills": team.drills(site.id, period),
    }
