"""Reading permits and freight approvals through the caller's reach; the contractor-pass limit."""

from datetime import date, datetime, time, timedelta

from portal.accounts.models import Residency
from portal.accounts.queries import reachable_unit_ids, resident_unit, site_condition
from portal.audit.operations import record_pii
from portal.core.converters import is_id
from portal.core.errors import ValidationFailed
from portal.core.timeutil import utcnow, zone
from portal.desk.access import desk_site
from portal.extensions import db
from portal.permits.models import FreightApproval, Permit
from portal.sites import settings as site_settings
from portal.sites.models import Building, Unit
from portal.sites.queries import unit_in_site


def contractor_limit(site):
    """How long a contractor pass may last without a manager's approval (site setting contractor_max_days, 7)."""
    return timedelta(days=site_settings.value(site, "contractor_max_days"))


def approval_required(site):
    """True when the site's long contractor passes wait for a manager (site setting contractor_passes_need_approval)."""
    return bool(site_settings.value(site, "contractor_passes_need_approval"))


def permit_window(permit, tz_name):
    """(first instant, last instant) of a permit's dates, in UTC, read in the site's time zone."""
    tz = zone(tz_name)
    start = datetime.combine(permit.starts_on, time(0, 0), tz)
    end = datetime.combine(permit.ends_on + timedelta(days=1), time(0, 0), tz)
    return start, end


def approved_permits(unit_id, at=None):
    """Approved permits of a unit whose dates have not ended."""
    at = at or utcnow()
    q = db.select(Permit).where(
        Permit.unit_id == unit_id, Permit.status == "approved", Permit.ends_on >= (at - timedelta(days=1)).date()
    )
    return db.session.scalars(q.order_by(Permit.id)).all()


def permit_covering(unit_id, site, at=None):
    """An approved permit of the unit whose dates include at (in the site's zone), or None."""
    at = at or utcnow()
    for permit in approved_permits(unit_id, at):
        start, end = permit_window(permit, site.timezone)
        if start <= at < end:
            return permit
    return None


def pass_status(site, unit, values):
    """active, or awaiting_approval for a contractor pass longer than the site's limit or outside the unit's permit."""
    if values.get("kind") != "contractor" or not approval_required(site):
        return "active"
    start, end = values["valid_from"], values["valid_until"]
    if end - start > contractor_limit(site):
        return "awaiting_approval"
    permits = approved_permits(unit.id)
    if permits and not any(a <= start and end <= b for a, b in (permit_window(p, site.timezone) for p in permits)):
        return "awaiting_approval"
    return "active"


def scoped(user):
    """A select over the permits a user may see: a resident's units', a staff member's site's."""
    q = db.select(Permit)
    if user.role == "resident":
        return q.where(Permit.unit_id.in_(reachable_unit_ids(user) or {-1}))
    return q.where(site_condition(user, Permit.site_id))


def list_for(user, status=None, limit=200, pending_first=False):
    """Newest permits first, optionally one status; pending_first (the site's page): those waiting for a decision first."""
    q = scoped(user)
    if status:
        q = q.where(Permit.status == status)
    # Ordered before the limit, so a permit still waiting is never cut off by newer decided ones.
    waiting = (db.case((Permit.status == "pending", 0), else_=1),) if pending_first else ()
    return db.session.scalars(q.order_by(*waiting, Permit.id.desc()).limit(limit)).all()


def get_for(user, permit_id):
    """A permit the user may see, or None (answered 404)."""
    if not is_id(permit_id):
        return None
    return db.session.scalar(scoped(user).where(Permit.id == permit_id))


def shown(user, permit):
    """The permit, a staff member's view of its workers' data audited."""
    record_pii(user, "permit", permit.id, permit.site_id, fields=["workers", "responsible"])
    return permit


def document_shown(user, permit, document_id):
    """One of the permit's documents or None, a staff member's view of it audited."""
    doc = next((d for d in permit.documents if d.id == document_id), None)
    if doc is not None:
        record_pii(user, "permit_document", doc.id, permit.site_id, fields=[doc.kind])
    return doc


def freight_for_site(site_id, limit=200):
    """A site's freight approvals, newest first."""
    q = db.select(FreightApproval).where(FreightApproval.site_id == site_id)
    return db.session.scalars(q.order_by(FreightApproval.id.desc()).limit(limit)).all()


def vacant_units(site_id, at=None, limit=500):
    """A site's units nobody lives in now (a manager applies for their works), in building and number order."""
    at = at or utcnow()
    living = db.select(Residency.id).where(
        Residency.unit_id == Unit.id, Residency.starts_at <= at, Residency.ends_at.is_(None) | (Residency.ends_at > at)
    )
    q = db.select(Unit).join(Building).where(Building.site_id == site_id, ~living.exists())
    return db.session.scalars(q.order_by(Building.code, Unit.number).limit(limit)).all()


def local_iso(day, hhmm, tz_name):
    """ "2026-12-01" and "09:00" read in a zone, as ISO 8601 with the offset; None when either is not well formed."""
    try:
        return datetime.combine(date.fromisoformat(day or ""), time.fromisoformat(hhmm or ""), zone(tz_name)).isoformat()
    except (TypeError, ValueError):
        return None


def applicant_unit(user, data):
    """The unit an application is for: a resident's own, or (managers) a unit of their site; else a 400."""
    unit_id = data.get("unit_id")
    if unit_id == "":
        unit_id = None
    if isinstance(unit_id, str) and unit_id.isascii() and unit_id.isdigit() and len(unit_id) < 10:
        unit_id = int(unit_id)
    if unit_id is not None and (isinstance(unit_id, bool) or not isinstance(unit_id, int)):
        raise ValidationFailed({"unit_id": ("invalid_unit", "Choose one of your units.")})
    if user.role == "resident":
        return resident_unit(user, unit_id)
    unit = unit_in_site(unit_id, desk_site(user).id)
    if unit is None:
        raise ValidationFailed({"unit_id": ("invalid_unit", "Choose a unit of this community.")})
    return unit
