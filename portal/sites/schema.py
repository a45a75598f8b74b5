"""Turning place input (a form or JSON) into clean values, with per-field errors in both languages."""

import re
import zoneinfo

from portal.core import validators as v
from portal.core.errors import ValidationFailed
from portal.core.i18n import N_

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,19}$")
GATE_KINDS = ("pedestrian", "vehicle")
# What a form or a JSON body may name, per kind of place (the code and slug only when it is created).
SITE_FIELDS = ("slug", "name", "name_en", "timezone", "address", "directions", "directions_en")
BUILDING_FIELDS = ("code", "name", "name_en", "lowest_floor", "highest_floor")
GATE_FIELDS = ("code", "name", "name_en", "kind", "building_id")
LOWEST, HIGHEST = -10, 200  # basements to the tallest towers


# Offered first in the time-zone field (any IANA name is accepted).
COMMON_ZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "UTC")


def _zones():
    return zoneinfo.available_timezones()


def common_zones():
    """Zones offered in the form's list."""
    return COMMON_ZONES


def _int(raw, low, high):
    if isinstance(raw, bool):
        raise v.FieldError("invalid_number", N_("Enter a whole number."))
    try:
        n = int(raw.strip()) if isinstance(raw, str) else raw
    except ValueError:
        raise v.FieldError("invalid_number", N_("Enter a whole number.")) from None
    if not isinstance(n, int):
        raise v.FieldError("invalid_number", N_("Enter a whole number."))
    if not low <= n <= high:
        raise v.FieldError("out_of_range", N_("Enter a number from %(low)s to %(high)s."), low=low, high=high)
    return n


def _code(raw):
    raw = raw.strip() if isinstance(raw, str) else raw
    if not isinstance(raw, str) or not CODE.match(raw):
        raise v.FieldError("invalid_code", N_("Letters, digits and hyphens, at most 20."))
    return raw  # as typed: the roll import names buildings and units by the same text


def _slug(raw):
    raw = raw.strip().lower() if isinstance(raw, str) else raw
    if not isinstance(raw, str) or not SLUG.match(raw):
        raise v.FieldError("invalid_slug", N_("2 to 40 lower-case letters, digits and hyphens, e.g. sunny-garden."))
    return raw


def _timezone(raw):
    raw = raw.strip() if isinstance(raw, str) else raw
    if not isinstance(raw, str) or raw not in _zones():
        raise v.FieldError("invalid_timezone", N_("Unknown time zone."))
    return raw


def _names(data, errors, max_len):
    """The Chinese name (required) and the English one (optional)."""
    name = v.collect(errors, "name", v.clean_text, data.get("name"), max_len=max_len)
    name_en = v.collect(errors, "name_en", v.clean_text, data.get("name_en"), max_len=max_len, required=False)
    return name, name_en


def _done(errors, values):
    if errors:
        raise ValidationFailed(errors)
    return values


def parse_site(data, new=True):
    """A community's fields; the slug only when it is created (it is in links and SMS)."""
    errors = {}
    out = {}
    if new:
        out["slug"] = v.collect(errors, "slug", _slug, data.get("slug"))
    out["name"], out["name_en"] = _names(data, errors, 120)
    out["timezone"] = v.collect(errors, "timezone", _timezone, data.get("timezone") or "Asia/Shanghai")
    out["address"] = v.collect(errors, "address", v.clean_text, data.get("address"), max_len=255, required=False)
    for key in ("directions", "directions_en"):
        out[key] = v.collect(errors, key, v.clean_text, data.get(key), max_len=2000, required=False, multiline=True)
    return _done(errors, out)


def parse_building(data, new=True):
    """A building's code, names and floor range."""
    errors = {}
    out = {}
    if new:
        out["code"] = v.collect(errors, "code", _code, data.get("code"))
    out["name"], out["name_en"] = _names(data, errors, 80)
    out["lowest_floor"] = v.collect(errors, "lowest_floor", _int, data.get("lowest_floor", 1), LOWEST, HIGHEST)
    out["highest_floor"] = v.collect(errors, "highest_floor", _int, data.get("highest_floor"), LOWEST, HIGHEST)
    low, high = out["lowest_floor"], out["highest_floor"]
    if low is not None and high is not None and low > high:
        errors["highest_floor"] = ("floor_order", N_("The highest floor cannot be below the lowest."))
    return _done(errors, out)


def parse_unit(data, building):
    """A unit's number and floor, which must be one of its building's floors."""
    errors = {}
    number = v.collect(errors, "number", _code, data.get("number"))
    floor = v.collect(errors, "floor", _int, data.get("floor"), LOWEST, HIGHEST)
    if floor is not None and floor not in building.floor_range():
        errors["floor"] = (
            "floor_not_in_building",
            N_("Floors of this building go from %(low)s to %(high)s."),
            {"low": building.lowest_floor, "high": building.highest_floor},
        )
    return _done(errors, {"number": number, "floor": floor})


def parse_gate(data, site, new=True):
    """A gate's code, names, kind and (optionally) the building it belongs to."""
    errors = {}
    out = {}
    if new:
        out["code"] = v.collect(errors, "code", _code, data.get("code"))
    out["name"], out["name_en"] = _names(data, errors, 80)
    kind = data.get("kind") or "pedestrian"
    if kind not in GATE_KINDS:
        errors["kind"] = ("invalid_kind", N_("A gate is for people or for cars."))
    out["kind"] = kind
    raw = data.get("building_id")
    out["building_id"] = None
    if raw not in (None, ""):
        ids = {b.id for b in site.buildings}
        try:
            out["building_id"] = int(raw)
        except (TypeError, ValueError):
            out["building_id"] = None
        if out["building_id"] not in ids:
            errors["building_id"] = ("invalid_building", N_("No such building in this community."))
    return _done(errors, out)
