"""What a user may reach: the site they see and, for a resident, the units they live in."""

from sqlalchemy import true
from werkzeug.exceptions import NotFound

from portal.accounts.models import Residency
from portal.core.converters import is_id
from portal.core.errors import Refused
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.sites.models import Unit


class NoSuchSite(NotFound):
    """A community this user may not see: pages and the API both answer it as a 404."""


def sees_every_site(user):
    """Only an administrator without a community of their own sees them all."""
    return user.role == "admin" and user.site_id is None


def site_scope(user, wanted=None):
    """The community id a staff view is about: the user's own, or an all-sites admin's pick (None: every one).

    A missing site_id must never widen a view: a guard or manager with no community (not an admin) sees
    nothing (NoSuchSite). `wanted` is an all-sites admin's choice; for everyone else it is ignored.
    """
    if user.site_id is not None:
        return user.site_id
    if not sees_every_site(user) or (wanted is not None and not is_id(wanted)):
        raise NoSuchSite()
    return wanted


def site_condition(user, column):
    """SQL limiting a site column to what the user sees: everything for an all-sites admin, else their own site."""
    if sees_every_site(user):
        return true()
    return column == (user.site_id or -1)


def current_unit_ids(user_id, now):
    """A SELECT of the ids of the units a resident lives in at now (values or bind parameters), to use as a subquery."""
    return db.select(Residency.unit_id).where(
        Residency.user_id == user_id, Residency.starts_at <= now, (Residency.ends_at.is_(None)) | (Residency.ends_at > now)
    )


def reachable_unit_ids(user):
    """Units the resident lives in now."""
    return set(db.session.scalars(current_unit_ids(user.id, utcnow())))


def resident_units(user):
    """The units the resident lives in now, in id order."""
    ids = reachable_unit_ids(user)
    return db.session.scalars(db.select(Unit).where(Unit.id.in_(ids or {-1})).order_by(Unit.id)).all()


def resident_unit(user, unit_id, units=None):
    """The unit a resident acts for: the given one if theirs, else their only one; refused otherwise."""
    units = resident_units(user) if units is None else units
    if unit_id is None and len(units) == 1:
        return units[0]
    for unit in units:
        if unit.id == unit_id:
            return unit
    raise Refused("invalid", "Choose one of your units.", fields={"unit_id": ("invalid_unit", "Choose one of your units.")})
