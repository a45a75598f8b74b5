"""Incident reads: the site's list with filters, one incident, its photo, and response-time figures for the KPIs."""

from statistics import median, quantiles

from portal.accounts.models import STAFF_ROLES, User
from portal.audit.operations import record_pii
from portal.extensions import db
from portal.incidents.models import Incident, IncidentEscalation, IncidentPhoto


def list_for(site_id, status=None, kind=None, severity=None, start=None, end=None, limit=50, offset=0):
    """A site's incidents, unresolved first, then newest first; filters are stored codes, times UTC bounds."""
    q = db.select(Incident).where(Incident.site_id == site_id)
    if status == "unresolved":
        q = q.where(Incident.status != "resolved")
    elif status:
        q = q.where(Incident.status == status)
    if kind:
        q = q.where(Incident.kind == kind)
    if severity:
        q = q.where(Incident.severity == severity)
    if start is not None:
        q = q.where(Incident.reported_at >= start)
    if end is not None:
        q = q.where(Incident.reported_at < end)
    unresolved_first = db.case((Incident.status == "resolved", 1), else_=0)
    q = q.order_by(unresolved_first, Incident.reported_at.desc(), Incident.id.desc())
    return db.session.scalars(q.limit(max(1, min(limit, 200))).offset(max(0, offset))).all()


def photo(incident, photo_id):
    """One photo of the incident, or None."""
    p = db.session.get(IncidentPhoto, photo_id)
    return p if p is not None and p.incident_id == incident.id else None


def shown(viewer, incident):
    """The incident, its view by staff audited (descriptions and people name people)."""
    record_pii(viewer, "incident", incident.id, incident.site_id)
    return incident


def photo_shown(viewer, incident, photo_id):
    """photo(), its view by staff audited when there is one."""
    p = photo(incident, photo_id)
    if p is not None:
        record_pii(viewer, "incident_photo", p.id, incident.site_id)
    return p


def staff_of(site_id):
    """Active guards and managers of a site, to assign."""
    q = db.select(User).where(User.site_id == site_id, User.active.is_(True), User.role.in_(STAFF_ROLES))
    return db.session.scalars(q.order_by(User.role, User.display_name)).all()


def percentile(values, p):
    """The p-th percentile (0-100) by linear interpolation between closest ranks (Excel PERCENTILE.INC)."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return quantiles(ordered, n=100, method="inclusive")[p - 1]


def _spread(minutes):
    return {
        "n": len(minutes),
        "median_minutes": round(median(minutes), 2) if minutes else None,
        "p90_minutes": round(percentile(minutes, 90), 2) if minutes else None,
    }


def response_times(site_id, start, end):
    """Minutes from report to acknowledgement, on scene and resolution of the incidents reported in [start, end)."""
    rows = db.session.execute(
        db.select(
            Incident.reported_at, Incident.acknowledged_at, Incident.on_scene_at, Incident.resolved_at, Incident.severity
        ).where(Incident.site_id == site_id, Incident.reported_at >= start, Incident.reported_at < end)
    ).all()

    def minutes(i):
        return [(r[i] - r[0]).total_seconds() / 60 for r in rows if r[i] is not None]

    escalated = db.session.scalar(
        db.select(db.func.count(db.distinct(IncidentEscalation.incident_id)))
        .join(Incident, Incident.id == IncidentEscalation.incident_id)
        .where(Incident.site_id == site_id, Incident.reported_at >= start, Incident.reported_at < end)
    )
    return {
        "reported": len(rows),
        "by_severity": {s: sum(1 for r in rows if r[4] == s) for s in ("low", "normal", "high", "critical")},
        "unacknowledged": sum(1 for r in rows if r[1] is None),
        "escalated": escalated or 0,
        "acknowledge": _spread(minutes(1)),
        "on_scene": _spread(minutes(2)),
        "resolve": _spread(minutes(3)),
    }
