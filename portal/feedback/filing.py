"""Shared by the API and the phone pages: which unit a resident files for, and reading a filing request."""

from portal.accounts.queries import resident_unit, resident_units
from portal.core.errors import Refused
from portal.feedback import operations, uploads
from portal.feedback.schema import parse_filing


def unit_for(user, unit_id):
    """The unit a filing belongs to: the given one if the resident's, else their only one."""
    units = resident_units(user)
    if not units:
        raise Refused("no_unit", "Only residents with a unit can file feedback.", kind="forbidden")
    if isinstance(unit_id, str) and (unit_id.isascii() and unit_id.isdigit() and len(unit_id) < 10):
        unit_id = int(unit_id)
    return resident_unit(user, None if unit_id == "" else unit_id, units)


def file_from(user, data, files=None):
    """Validate fields and photos, then file; photos are refused before anything is written."""
    values = parse_filing(data)
    unit = unit_for(user, data.get("unit_id"))
    photos = uploads.from_files(files) if files is not None else []
    return operations.file_complaint(user, unit.building.site, unit, values, photos)
