"""Turning pass input (JSON or form) into clean values, with per-field errors."""

import re
from datetime import timedelta

from portal.core import validators as v
from portal.core.errors import ValidationFailed
from portal.core.i18n import N_
from portal.core.timeutil import parse_iso, utcnow, zone
from portal.passes.models import KINDS
from portal.permits.queries import pass_status
from portal.sites import settings as site_settings
from portal.sites.models import Gate

MAX_WINDOW = timedelta(days=366)
MAX_ENTRIES = 1000
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_schedule(raw):
    """{"days": [1..7], "start": "HH:MM", "end": "HH:MM"}; end before start crosses midnight."""
    if raw in (None, {}, ""):
        return None
    if not isinstance(raw, dict):
        raise v.FieldError("invalid_schedule", "The schedule needs days, a start and an end time.")
    days = raw.get("days") or [1, 2, 3, 4, 5, 6, 7]
    if (
        not isinstance(days, list)
        or not days
        or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days)
    ):
        raise v.FieldError("invalid_schedule", "Days of the week are numbers 1 (Monday) to 7 (Sunday).")
    start, end = raw.get("start"), raw.get("end")
    if not (isinstance(start, str) and _HHMM.match(start) and isinstance(end, str) and _HHMM.match(end)):
        raise v.FieldError("invalid_schedule", "Daily hours are written HH:MM, for example 08:00.")
    if start == end:
        raise v.FieldError("invalid_schedule", "The daily start and end time must differ.")
    return {"days": sorted(set(days)), "start": start, "end": end}


def _window(data, errors):
    try:
        start = parse_iso(data.get("valid_from"))
    except (ValueError, TypeError):
        errors["valid_from"] = (
            "invalid_datetime",
            N_("Give a date and time with its offset, e.g. 2026-12-01T09:00:00+08:00."),
            {},
        )
        start = None
    try:
        end = parse_iso(data.get("valid_until"))
    except (ValueError, TypeError):
        errors["valid_until"] = (
            "invalid_datetime",
            N_("Give a date and time with its offset, e.g. 2026-12-01T09:00:00+08:00."),
            {},
        )
        end = None
    if start and end:
        if end <= start:
            errors["valid_until"] = ("window_order", N_("The pass must end after it starts."), {})
        elif end - start > MAX_WINDOW:
            errors["valid_until"] = ("window_too_long", N_("A pass can last at most one year."), {})
        elif end <= utcnow():
            errors["valid_until"] = ("window_past", N_("The pass would already have ended."), {})
    return start, end


# The message says "this kind": the form shows the kind beside it, and a label inside would not be translated.
SITE_LIMIT = N_("At this community this kind of pass can last at most %(days)s days.")


def site_limit(site, kind, start, end):
    """The field error when the window is longer than the site allows for this kind, else None."""
    days = site_settings.pass_max_days(site, kind)
    if end - start > timedelta(days=days):
        return ("window_too_long_here", SITE_LIMIT, {"days": days})
    return None


def _entries(raw, errors):
    if raw is None or raw == "unlimited":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_ENTRIES:
        errors["max_entries"] = (
            "invalid_entries",
            N_("Entries must be a number from 1 to %(max)s, or unlimited."),
            {"max": MAX_ENTRIES},
        )
        return None
    return raw


def _floors(raw, unit, errors):
    if raw in (None, []):
        return [unit.floor]
    allowed = unit.building.floor_range()
    if not isinstance(raw, list) or not all(isinstance(f, int) and not isinstance(f, bool) for f in raw):
        errors["floors"] = ("invalid_floors", N_("Floors must be a list of floor numbers."), {})
        return []
    bad = [f for f in raw if f not in allowed]
    if bad:
        errors["floors"] = ("floor_not_in_building", N_("Only floors of your own building can be allowed."), {})
        return []
    return sorted(set(raw))


def _gates(raw, site, errors):
    if raw in (None, []):
        return []
    if not isinstance(raw, list) or len(raw) > 50:
        errors["gates"] = ("invalid_gates", N_("Gates must be a list of gate codes."), {})
        return []
    from portal.extensions import db

    site_gates = db.session.scalars(db.select(Gate).where(Gate.site_id == site.id)).all()
    by_key = {g.code: g.id for g in site_gates} | {g.id: g.id for g in site_gates}
    ids = []
    for item in raw:
        if isinstance(item, (str, int)) and not isinstance(item, bool) and item in by_key:
            ids.append(by_key[item])
        else:
            errors["gates"] = ("unknown_gate", N_("One of the gates does not exist at this community."), {})
            return []
    return sorted(set(ids))


def parse_pass(data, unit, site):
    """Validate a pass request; returns a dict of clean values or raises ValidationFailed."""
    errors = {}
    visitor = data.get("visitor")
    if not isinstance(visitor, dict):
        visitor = {}
        errors["visitor"] = ("required", N_("This field is required."), {})
    name = v.collect(errors, "visitor.name", v.person_name, visitor.get("name"))
    phone = v.collect(errors, "visitor.phone", v.phone, visitor.get("phone"))
    idn = v.collect(errors, "visitor.id_number", v.id_number, visitor.get("id_number"))
    plate = v.collect(errors, "visitor.plate", v.plate, visitor.get("plate"))
    kind = data.get("kind", "guest")
    if kind not in KINDS:
        errors["kind"] = ("invalid_kind", N_("Kind must be guest, delivery, contractor or service."), {})
    tz_name = data.get("timezone") or site.timezone
    if not isinstance(tz_name, str) or zone(tz_name).key != tz_name:
        errors["timezone"] = ("invalid_timezone", N_("Unknown time zone."), {})
        tz_name = site.timezone
    start, end = _window(data, errors)
    if start and end and "valid_until" not in errors and kind in KINDS:
        too_long = site_limit(site, kind, start, end)
        if too_long:
            errors["valid_until"] = too_long
    schedule = v.collect(errors, "schedule", parse_schedule, data.get("schedule"))
    entries = _entries(data.get("max_entries", None if schedule else 1), errors)
    floors = _floors(data.get("floors"), unit, errors)
    gates = _gates(data.get("gates"), site, errors)
    notify = data.get("notify", "sms" if phone else "none")
    if notify not in ("sms", "none"):
        errors["notify"] = ("invalid_notify", N_("Notify must be sms or none."), {})
    elif notify == "sms" and not phone and "visitor.phone" not in errors:
        errors["visitor.phone"] = ("required", N_("A phone number is needed to send the pass by SMS."), {})
    company = v.collect(errors, "company", v.clean_text, data.get("company"), max_len=120, required=False)
    work_area = v.collect(errors, "work_area", v.clean_text, data.get("work_area"), max_len=120, required=False)
    note = v.collect(errors, "note", v.clean_text, data.get("note"), max_len=500, required=False, multiline=True)
    if errors:
        raise ValidationFailed(errors)
    values = dict(
        visitor_name=name,
        visitor_phone=phone,
        visitor_id_number=idn,
        plate=plate,
        kind=kind,
        timezone=tz_name,
        valid_from=start,
        valid_until=end,
        schedule=schedule,
        max_entries=entries,
        floors=floors,
        gate_ids=gates,
        notify=notify,
        company=company,
        work_area=work_area,
        note=note,
    )
    values["status"] = pass_status(site, unit, values)
    return values
