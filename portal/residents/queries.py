"""Reads on residents: the site's people with their activation state, a unit's households, the roll for export."""

from sqlalchemy import func
from sqlalchemy.orm import joinedload

from portal.accounts.models import Residency, User
from portal.accounts.queries import sees_every_site
from portal.audit.operations import record_pii
from portal.core.converters import is_id
from portal.core.timeutil import local, utcnow
from portal.core.validators import mask_phone
from portal.extensions import db
from portal.residents.models import ActivationLink, ExportRight
from portal.residents.operations import is_activated
from portal.sites.models import Building, Unit

# Rows name the person and the unit's label: loaded with the residency, not one query per row.
_WITH_PEOPLE = (joinedload(Residency.user), joinedload(Residency.unit).joinedload(Unit.building))


def _current(q, now):
    """Residencies not ended: living there now or moving in on a later day (as the roll import counts them)."""
    return q.where(Residency.ends_at.is_(None) | (Residency.ends_at > now))


def in_reach(viewer, site_id):
    """Whether a staff user works for this site (administrators of every site work for all; nobody else without one)."""
    return sees_every_site(viewer) or (viewer.site_id is not None and viewer.site_id == site_id)


def unit_for(viewer, unit_id):
    """A unit the viewer manages, or None (another community's units do not exist for them)."""
    unit = db.session.get(Unit, unit_id) if is_id(unit_id) else None
    return unit if unit is not None and in_reach(viewer, unit.building.site_id) else None


def residency_for(viewer, residency_id):
    """A residency of a unit the viewer manages, or None."""
    r = db.session.get(Residency, residency_id) if is_id(residency_id) else None
    return r if r is not None and in_reach(viewer, r.unit.building.site_id) else None


def resident_for(viewer, user_id):
    """(resident, the site they live or lived at) within the viewer's reach, or (None, None)."""
    user = db.session.get(User, user_id) if is_id(user_id) else None
    if user is not None and user.role == "resident":
        for r in user.residencies:
            if in_reach(viewer, r.unit.building.site_id):
                return user, r.unit.building.site
    return None, None


def manager_for(viewer, user_id):
    """A manager of a site the viewer works for, or None."""
    user = db.session.get(User, user_id) if is_id(user_id) else None
    return user if user is not None and user.role == "manager" and in_reach(viewer, user.site_id) else None


def export_right_ids(user_ids):
    """The ids among user_ids that were granted the right to export full phone numbers."""
    if not user_ids:
        return set()
    return set(db.session.scalars(db.select(ExportRight.user_id).where(ExportRight.user_id.in_(user_ids))))


def latest_links(user_ids):
    """user id -> their newest activation link."""
    if not user_ids:
        return {}
    newest = db.select(func.max(ActivationLink.id)).where(ActivationLink.user_id.in_(user_ids)).group_by(ActivationLink.user_id)
    return {link.user_id: link for link in db.session.scalars(db.select(ActivationLink).where(ActivationLink.id.in_(newest)))}


def link_state(link, now=None):
    """none | open | expired | replaced | used."""
    now = now or utcnow()
    if link is None:
        return "none"
    if link.used_at is not None:
        return "used"
    if link.revoked_at is not None:
        return "replaced"
    return "open" if link.expires_at > now else "expired"


def residents(site, activated=None):
    """People living at the site (or moving in): (user, [their residencies], newest link), not activated first, by name."""
    now = utcnow()
    q = _current(
        db.select(Residency).join(Unit, Unit.id == Residency.unit_id).join(Building).where(Building.site_id == site.id), now
    )
    by_user = {}
    for r in db.session.scalars(q.options(*_WITH_PEOPLE).order_by(Building.code, Unit.number, Residency.id)):
        by_user.setdefault(r.user_id, (r.user, []))[1].append(r)
    people = [(u, rs) for u, rs in by_user.values() if u.role == "resident"]
    if activated is not None:
        people = [(u, rs) for u, rs in people if is_activated(u) == activated]
    links = latest_links([u.id for u, _ in people])
    people.sort(key=lambda p: (is_activated(p[0]), p[0].display_name, p[0].id))
    return [(u, rs, links.get(u.id)) for u, rs in people]


def activation_json(user, link, now=None):
    """Whether the resident activated, and their newest link's dates (never the link itself)."""
    return {
        "activated": is_activated(user),
        "link": link_state(link, now) if not is_activated(user) else None,
        "sent_at": link.created_at.isoformat() if link else None,
        "expires_at": link.expires_at.isoformat() if link else None,
    }


def resident_json(user, residencies, link, zone):
    """A resident as managers see them: phone masked."""
    return {
        "id": user.id,
        "login": user.login,
        "name": user.display_name,
        "phone": mask_phone(user.phone),
        "locale": user.locale,
        "units": [residency_json(r, zone) for r in residencies],
        **activation_json(user, link),
    }


def residency_json(r, zone):
    """One residency: unit, relation, move-in and move-out days in the site's time zone."""
    ended = local(r.ends_at, zone).isoformat() if r.ends_at else None
    return {
        "id": r.id,
        "user_id": r.user_id,
        "name": r.user.display_name,
        "unit": {"id": r.unit_id, "label": r.unit.label},
        "relation": r.relation,
        "move_in": local(r.starts_at, zone).date().isoformat(),
        "ends_at": ended,
    }


def unit_households(unit):
    """(current, past) residencies of a unit, current by move-in, past newest first."""
    now = utcnow()
    rows = db.session.scalars(db.select(Residency).where(Residency.unit_id == unit.id).order_by(Residency.starts_at)).all()
    current = [r for r in rows if r.ends_at is None or r.ends_at > now]
    past = sorted((r for r in rows if r.ends_at is not None and r.ends_at <= now), key=lambda r: r.ends_at, reverse=True)
    return current, past


def residents_shown(viewer, site, rows):
    """rows (of residents()), their view by staff audited: names and masked phones."""
    record_pii(viewer, "site", site.id, site.id, fields=["name", "phone_masked"], count=len(rows))
    return rows


def unit_households_shown(viewer, unit):
    """unit_households(unit), the view of the residents' names audited."""
    record_pii(viewer, "unit", unit.id, unit.building.site_id, fields=["name"])
    return unit_households(unit)


def units(site):
    """The site's units with how many live in each now, by building and number."""
    now = utcnow()
    counts = dict(
        db.session.execute(
            _current(db.select(Residency.unit_id, func.count(Residency.id)), now).group_by(Residency.unit_id)
        ).all()
    )
    q = db.select(Unit).join(Building).where(Building.site_id == site.id).order_by(Building.code, Unit.number)
    return [(u, counts.get(u.id, 0)) for u in db.session.scalars(q)]


def roll_rows(site):
    """The current roll as the import reads it (building code, unit, name, phone, relation, move-in day) and activation."""
    now = utcnow()
    q = _current(
        db.select(Residency, Building.code, Unit.number)
        .join(Unit, Unit.id == Residency.unit_id)
        .join(Building)
        .where(Building.site_id == site.id),
        now,
    ).order_by(Building.code, Unit.number, Residency.id)
    out = []
    q = q.options(joinedload(Residency.user))
    for r, code, number in db.session.execute(q).tuples():
        if r.user.role == "resident":
            out.append((code, number, r.user, r.relation, local(r.starts_at, site.timezone).date()))
    return out
