"""A community's settings: one declared table of keys, defaults and ranges, stored in Site.settings (JSON).

Readers ask `value(site, key)`; the settings page, the API and `operations.change_settings` validate with
`parse`. A key a site has never set answers its default, which is what the product did before the key
was per site (an environment variable, or a constant in the feature that reads it).
"""

from dataclasses import dataclass

from flask import current_app, has_app_context

from portal.core.i18n import N_
from portal.core.validators import FieldError, collect
from portal.feedback.sla import DEFAULT_SLA_HOURS
from portal.passes.models import KINDS as PASS_KINDS

MAX_PASS_DAYS = 366  # passes.schema.MAX_WINDOW: no site may allow longer
SLA_MAX_HOURS = 24 * 60


@dataclass(frozen=True)
class Setting:
    """One setting: its kind (bool, int, percent, days_by_kind, sla), default and range."""

    key: str
    kind: str
    default: object
    low: float = 0
    high: float = 0


SETTINGS = (
    Setting("satisfaction_target", "percent", 0.95, 0.01, 1.0),  # reports accept any share above 0
    Setting("feedback_sla", "sla", None),
    Setting("retention_days", "int", None, 1, 730),
    Setting("parking_minutes", "int", 120, 10, 7 * 24 * 60),
    Setting("vehicles_per_unit", "int", 3, 0, 20),
    Setting("pass_max_days", "days_by_kind", None, 1, MAX_PASS_DAYS),
    Setting("vehicles_need_approval", "bool", False),
    # Read by the contractor permits (issue 19): passes longer than contractor_max_days wait for a manager.
    Setting("contractor_passes_need_approval", "bool", True),
    Setting("contractor_max_days", "int", 7, 0, MAX_PASS_DAYS),
    Setting("keypad_codes", "bool", True),
)
BY_KEY = {s.key: s for s in SETTINGS}


def default(key):
    """The value a site that never set this key has."""
    s = BY_KEY[key]
    if key == "retention_days":
        return int(current_app.config.get("RETENTION_DAYS", 30)) if has_app_context() else 30
    if key == "feedback_sla":
        base = dict(DEFAULT_SLA_HOURS)
        if has_app_context():
            base.update(current_app.config.get("FEEDBACK_SLA_HOURS") or {})
        return {k: list(v) for k, v in base.items()}
    if key == "pass_max_days":
        return dict.fromkeys(PASS_KINDS, MAX_PASS_DAYS)
    return s.default


def value(site, key):
    """The site's value for a key (its default when unset or unreadable)."""
    stored = (site.settings or {}).get(key) if site is not None else None
    if stored is None:
        return default(key)
    try:
        clean = parse_one(BY_KEY[key], stored)
    except FieldError:
        return default(key)
    if key in ("pass_max_days", "feedback_sla"):
        return default(key) | clean  # a stored table may name only some rows
    return clean


def current(site):
    """Every setting of a site, defaults filled in."""
    return {s.key: value(site, s.key) for s in SETTINGS}


def pass_max_days(site, kind):
    """The longest pass of this kind the site allows, in days."""
    return int(value(site, "pass_max_days").get(kind, MAX_PASS_DAYS))


def _number(raw, s, integer):
    if isinstance(raw, bool):
        raise FieldError("invalid_number", N_("Enter a number."))
    if isinstance(raw, str):
        raw = raw.strip()
        try:
            raw = int(raw) if integer else float(raw)
        except ValueError:
            raise FieldError("invalid_number", N_("Enter a number.")) from None
    if not isinstance(raw, (int, float)) or raw != raw:  # NaN
        raise FieldError("invalid_number", N_("Enter a number."))
    if integer and int(raw) != raw:
        raise FieldError("invalid_number", N_("Enter a whole number."))
    if not s.low <= raw <= s.high:
        if s.kind == "percent":
            return _percent_range(s)
        raise FieldError("out_of_range", N_("Enter a number from %(low)s to %(high)s."), low=s.low, high=s.high)
    return int(raw) if integer else float(raw)


def _percent_range(s):
    low, high = round(s.low * 100), round(s.high * 100)
    raise FieldError(
        "out_of_range",
        N_("Enter a share from %(low)s%% to %(high)s%% (as a fraction, %(f_low)s to %(f_high)s)."),
        low=low,
        high=high,
        f_low=s.low,
        f_high=s.high,
    )


def _bool(raw):
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    raise FieldError("invalid_bool", N_("Choose yes or no."))


def _sla(raw):
    if not isinstance(raw, dict):
        raise FieldError("invalid_sla", N_("Give hours to the first answer and to resolution for each row."))
    out = {}
    for key, pair in raw.items():
        if key not in default("feedback_sla"):
            raise FieldError("invalid_sla", N_("Give hours to the first answer and to resolution for each row."))
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise FieldError("invalid_sla", N_("Give hours to the first answer and to resolution for each row."))
        hours = [_number(h, Setting("h", "int", None, 0.25, SLA_MAX_HOURS), False) for h in pair]
        if hours[1] < hours[0]:
            raise FieldError("sla_order", N_("Resolution cannot be due before the first answer."))
        out[key] = hours
    return out


def parse_one(s, raw):
    """A clean value for one setting, or a FieldError with a bilingual-ready message."""
    if s.kind == "bool":
        return _bool(raw)
    if s.kind == "int":
        return _number(raw, s, True)
    if s.kind == "percent":
        return _number(raw, s, False)
    if s.kind == "days_by_kind":
        if not isinstance(raw, dict) or set(raw) - set(PASS_KINDS):
            raise FieldError("invalid_days", N_("Give a number of days for each kind of pass."))
        return {k: _number(v, s, True) for k, v in raw.items()}
    return _sla(raw)


def parse(data):
    """Clean values for the keys given (unknown keys are errors); raises ValidationFailed naming each bad field."""
    from portal.core.errors import ValidationFailed

    errors, clean = {}, {}
    if not isinstance(data, dict):
        raise ValidationFailed({"_": ("invalid", N_("Send an object of settings."))})
    for key, raw in data.items():
        s = BY_KEY.get(key)
        if s is None:
            errors[str(key)[:40]] = ("unknown_setting", N_("No such setting."))
            continue
        clean[key] = collect(errors, key, parse_one, s, raw)
    if errors:
        raise ValidationFailed(errors)
    return clean
