"""Shared by the API and the phone pages: which unit a resident files for, and reading a filing request."""

from portal.accounts.queries import resident_unit, resident_units
from portal.core import validators as v
from portal.core.errors import Refused, ValidationFailed
from portal.feedback import operations, uploads
from portal.feedback.models import SOURCES
from portal.feedback.schema import parse_filing
from portal.sites.queries import residencies_of_site, unit_in_site
from portal.walkins.queries import residents_of

STAFF_SOURCES = tuple(s for s in SOURCES if s != "resident")


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


def _resident_by_phone(site_id, raw):
    """(resident, unit) living at the site whose phone is raw, or (None, None); phones are encrypted, so compared here."""
    wanted = v.check("phone", v.phone, raw, required=True)
    for residency in residencies_of_site(site_id):
        if residency.user.phone == wanted:
            return residency.user, residency.unit
    return None, None


def file_for_resident(staff, site, data, files=None):
    """A guard or manager files for a resident found by unit or phone, recording where it came from."""
    source = data.get("source")
    if source not in STAFF_SOURCES:
        raise ValidationFailed({"source": ("invalid_choice", "Choose one of the offered values.")})
    values = parse_filing(data)
    if values["anonymous"]:
        raise ValidationFailed({"anonymous": ("anonymous_complaint", "Staff file with the resident's name.")})
    author = unit = None
    if data.get("phone"):
        author, unit = _resident_by_phone(site.id, data.get("phone"))
    unit_id = data.get("unit_id")
    if isinstance(unit_id, str) and unit_id.isascii() and unit_id.isdigit() and len(unit_id) < 10:
        unit_id = int(unit_id)
    if unit is None and unit_id not in (None, ""):
        unit = unit_in_site(unit_id, site.id)
        people = residents_of(unit) if unit is not None else []
        author = people[0] if people else None
    if unit is None:
        raise ValidationFailed({"unit_id": ("invalid_unit", "Give the resident's unit or a phone number of a resident here.")})
    photos = uploads.from_files(files) if files is not None else []
    # A caller from a unit nobody lives in (a visitor, a worker): the filing is the staff member's own.
    return operations.file_complaint(author or staff, site, unit, values, photos, source=source, filed_by=staff)
