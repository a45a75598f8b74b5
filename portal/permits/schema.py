"""Turning a permit application or a freight approval (JSON or form) into clean values, with per-field errors."""

import json
from datetime import date, timedelta

from portal.core import validators as v
from portal.core.errors import ValidationFailed
from portal.core.i18n import N_
from portal.core.timeutil import parse_iso
from portal.passes.schema import parse_schedule
from portal.permits.models import KINDS

MAX_WORKERS = 30
MAX_PLATES = 5
MAX_DAYS = 366


def _listish(raw):
    """A list from JSON, or from a form field holding JSON text (multipart uploads)."""
    if isinstance(raw, str) and raw.strip():
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _date(errors, name, raw):
    try:
        if isinstance(raw, str) and len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    errors[name] = ("invalid_date", N_("Give a date as YYYY-MM-DD."), {})
    return None


def _workers(errors, raw):
    raw = _listish(raw)
    if not isinstance(raw, list) or not raw or len(raw) > MAX_WORKERS:
        errors["workers"] = ("invalid_workers", N_("List from 1 to %(n)s workers."), {"n": MAX_WORKERS})
        return []
    out = []
    for i, item in enumerate(raw):
        item = item if isinstance(item, dict) else {}
        out.append(
            {
                "name": v.collect(errors, f"workers.{i}.name", v.person_name, item.get("name")),
                "phone": v.collect(errors, f"workers.{i}.phone", v.phone, item.get("phone")),
                "id_number": v.collect(errors, f"workers.{i}.id_number", v.id_number, item.get("id_number"), required=True),
            }
        )
    return out


def _plates(errors, raw):
    raw = _listish(raw) or []
    if isinstance(raw, str):
        raw = [p for p in raw.replace(",", " ").split() if p]
    if not isinstance(raw, list) or len(raw) > MAX_PLATES:
        errors["plates"] = ("invalid_plates", N_("List at most %(n)s plates."), {"n": MAX_PLATES})
        return []
    plates = [v.collect(errors, f"plates.{i}", v.plate, p, required=True, allow_unknown=True) for i, p in enumerate(raw)]
    return sorted({p for p in plates if p})


def parse_application(data, today):
    """Company, responsible person, workers, work area, dates, daily hours and vehicles of a permit."""
    errors = {}
    kind = data.get("kind") or "renovation"
    if kind not in KINDS:
        errors["kind"] = ("invalid_kind", N_("Kind must be renovation or contractor."), {})
    out = {
        "kind": kind,
        "company": v.collect(errors, "company", v.clean_text, data.get("company"), max_len=120),
        "responsible_name": v.collect(errors, "responsible_name", v.person_name, data.get("responsible_name")),
        "responsible_phone": v.collect(errors, "responsible_phone", v.phone, data.get("responsible_phone"), required=True),
        "work_area": v.collect(errors, "work_area", v.clean_text, data.get("work_area"), max_len=120),
        "starts_on": _date(errors, "starts_on", data.get("starts_on")),
        "ends_on": _date(errors, "ends_on", data.get("ends_on")),
        "workers": _workers(errors, data.get("workers")),
        "plates": _plates(errors, data.get("plates")),
    }
    hours = {"days": _listish(data.get("days")) or [], "start": data.get("daily_start"), "end": data.get("daily_end")}
    schedule = v.collect(errors, "daily_start", parse_schedule, hours)
    if schedule is None and "daily_start" not in errors:
        errors["daily_start"] = ("required", N_("This field is required."), {})
    if schedule:
        out.update(days=schedule["days"], daily_start=schedule["start"], daily_end=schedule["end"])
    start, end = out["starts_on"], out["ends_on"]
    if start and end:
        if end < start:
            errors["ends_on"] = ("window_order", N_("The end must be after the start."), {})
        elif end < today:
            errors["ends_on"] = ("window_past", N_("The works must not have ended already."), {})
        elif (end - start) > timedelta(days=MAX_DAYS):
            errors["ends_on"] = ("window_too_long", N_("A permit can last at most one year."), {})
    if errors:
        raise ValidationFailed(errors)
    return out


def parse_freight(data):
    """Plate, company, purpose and window of a freight or engineering vehicle."""
    errors = {}
    out = {
        "plate": v.collect(errors, "plate", v.plate, data.get("plate"), required=True, allow_unknown=True),
        "company": v.collect(errors, "company", v.clean_text, data.get("company"), max_len=120),
        "purpose": v.collect(errors, "purpose", v.clean_text, data.get("purpose"), max_len=200),
    }
    for name in ("valid_from", "valid_until"):
        try:
            out[name] = parse_iso(data.get(name))
        except (TypeError, ValueError):
            errors[name] = ("invalid_datetime", N_("Give a date and time with its offset, e.g. 2026-12-01T09:00:00+08:00."), {})
    if not errors:
        if out["valid_until"] <= out["valid_from"]:
            errors["valid_until"] = ("window_order", N_("The end must be after the start."), {})
        elif out["valid_until"] - out["valid_from"] > timedelta(days=31):
            errors["valid_until"] = ("window_too_long", N_("A freight approval can last at most 31 days."), {})
    if errors:
        raise ValidationFailed(errors)
    return out
