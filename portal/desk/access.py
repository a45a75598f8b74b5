"""Who may use the desk, and for which community."""

from flask import request

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.core.converters import is_id
from portal.core.errors import ApiError, ValidationFailed
from portal.core.timeutil import parse_iso
from portal.extensions import db
from portal.sites.models import Site

DESK_ROLES = STAFF_ROLES
MANAGE_ROLES = MANAGER_ROLES


def desk_site(user):
    """The site a staff user works the desk for; a global admin picks one with ?site_id=."""
    if user.site_id is not None:
        return db.session.get(Site, user.site_id)
    if user.role != "admin":
        raise ApiError(403, "forbidden", "You are not allowed to do this.")
    wanted = request.args.get("site_id", type=int)
    if not wanted:
        site = db.session.scalar(db.select(Site).order_by(Site.id).limit(1))
    else:
        site = db.session.get(Site, wanted) if is_id(wanted) else None
    if site is None:
        raise ApiError(404, "not_found", "No such community.")
    return site


def site_object(model, obj_id, site):
    """An object of the site by id, or a 404 (another site's objects do not exist for this user)."""
    obj = db.session.get(model, obj_id) if is_id(obj_id) else None
    if obj is None or obj.site_id != site.id:
        raise ApiError(404, "not_found", "Not found.")
    return obj


def id_arg(name):
    """An id from the query string; one no row can have is a 400 (PostgreSQL would fail to bind it)."""
    value = request.args.get(name, type=int)
    if value is not None and not is_id(value):
        raise ValidationFailed({name: ("out_of_range", "A number in the request is out of range.")})
    return value


def time_arg(name):
    """A time from the query string (ISO 8601 with its offset), or None; anything else is a 400."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = parse_iso(raw)
    except (ValueError, TypeError):
        value = None
    # Years at the calendar's ends overflow when moved to UTC (0001 at +14:00); no record is near them.
    if value is None or not 1000 <= value.year <= 9000:
        raise ValidationFailed(
            {name: ("invalid_datetime", "Give a date and time with its offset, e.g. 2026-12-01T09:00:00+08:00.")}
        )
    return value
