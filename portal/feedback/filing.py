"""Shared by the API and the phone pages: which unit a resident files for, and reading a filing request."""

from portal.core.errors import ApiError
from portal.extensions import db
from portal.feedback import operations, uploads
from portal.feedback.schema import parse_filing
from portal.passes.queries import reachable_unit_ids
from portal.sites.models import Unit


def resident_units(user):
    """Units the resident lives in now."""
    ids = reachable_unit_ids(user)
    return db.session.scalars(db.select(Unit).where(Unit.id.in_(ids or {-1})).order_by(Unit.id)).all()


def unit_for(user, unit_id):
    """The unit a filing belongs to: the given one if the resident's, else their only one."""
    units = resident_units(user)
    if not units:
        raise ApiError(403, "no_unit", "Only residents with a unit can file feedback.")
    if isinstance(unit_id, str) and (unit_id.isascii() and unit_id.isdigit() and len(unit_id) < 10):
        unit_id = int(unit_id)
    if unit_id in (None, "") and len(units) == 1:
        return units[0]
    for unit in units:
        if unit.id == unit_id:
            return unit
    raise ApiError(400, "invalid", "Choose one of your units.", fields={"unit_id": ("invalid_unit", "Choose one of your units.")})


def file_from(user, data, files=None):
    """Validate fields and photos, then file; photos are refused before anything is written."""
    values = parse_filing(data)
    unit = unit_for(user, data.get("unit_id"))
    photos = uploads.from_files(files) if files is not None else []
    return operations.file_complaint(user, unit.building.site, unit, values, photos)
