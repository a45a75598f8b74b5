"""Real-format validation for names, phones, Chinese ID numbers, plates and report periods."""

import re
import unicodedata
from datetime import timedelta

import phonenumbers
from flask_babel import lazy_gettext as _l  # noqa: F401  (msgids are extracted from here)
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from portal.core.errors import ValidationFailed
from portal.core.timeutil import parse_iso, utcnow


class FieldError(ValueError):
    """A field failed validation: a stable code and an English msgid."""

    def __init__(self, code, message, **params):
        super().__init__(code)
        self.code = code
        self.message = message
        self.params = params

    def as_tuple(self):
        """The form ValidationFailed expects."""
        return (self.code, self.message, self.params)


def collect(errors, name, fn, *args, **kwargs):
    """fn(*args, **kwargs), or None with its FieldError recorded under errors[name] (for one ValidationFailed of all fields)."""
    try:
        return fn(*args, **kwargs)
    except FieldError as exc:
        errors[name] = exc.as_tuple()
        return None


def check(name, fn, *args, **kwargs):
    """fn(*args, **kwargs), or a ValidationFailed naming field `name` (a field checked on its own)."""
    errors: dict[str, tuple] = {}
    value = collect(errors, name, fn, *args, **kwargs)
    if errors:
        raise ValidationFailed(errors)
    return value


# Bidi overrides and other invisible controls can disguise a name on screens and in logs.
_FORBIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn"}


def clean_text(value, *, max_len, required=True, multiline=False):
    """Any printable Unicode up to max_len characters, NFC-normalised and trimmed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError("required", "This field is required.")
        return None
    if not isinstance(value, str):
        raise FieldError("invalid", "This field must be text.")
    value = unicodedata.normalize("NFC", value).strip()
    allowed_controls = {"\n", "\t"} if multiline else set()
    for ch in value:
        if ch in allowed_controls:
            continue
        if unicodedata.category(ch) in _FORBIDDEN and ch not in {"\u200d"}:
            raise FieldError("bad_characters", "This field contains control or invisible characters.")
    if len(value) > max_len:
        raise FieldError("too_long", "At most %(max)s characters.", max=max_len)
    return value


def person_name(value, required=True):
    """A visitor's or resident's name."""
    return clean_text(value, max_len=64, required=required)


def phone(value, required=False, region="CN"):
    """Normalise to E.164; mainland mobiles must be 11 digits starting 1[3-9]."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError("required", "This field is required.")
        return None
    if not isinstance(value, str) or len(value) > 32:
        raise FieldError("invalid_phone", "Not a valid phone number.")
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        num = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise FieldError("invalid_phone", "Not a valid phone number.") from None
    if not phonenumbers.is_valid_number(num):
        raise FieldError("invalid_phone", "Not a valid phone number.")
    if num.country_code == 86 and phonenumbers.number_type(num) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise FieldError("not_mobile", "A mobile number is needed to receive the pass by SMS.")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def id_number(value, required=False):
    """Chinese resident ID (GB 11643-1999): checksum and a real past birth date."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError("required", "This field is required.")
        return None
    if not isinstance(value, str) or len(value) > 32:
        raise FieldError("invalid_id_number", "Not a valid ID number.")
    text = unicodedata.normalize("NFKC", value).strip().replace(" ", "").upper()
    if not re.fullmatch(r"\d{17}[\dX]", text):
        raise FieldError("invalid_id_number", "An ID number has 17 digits and a check digit or X.")
    try:
        ric.validate(text)
    except StdnumError:
        raise FieldError("invalid_id_number", "The ID number's check digit or birth date is wrong.") from None
    birth = ric.get_birth_date(text)
    if birth > utcnow().date():
        raise FieldError("invalid_id_number", "The ID number's check digit or birth date is wrong.")
    return text


PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_SERIAL = "A-HJ-NP-Z0-9"
_PLATE_RE = re.compile(
    rf"^[{PROVINCES}][A-HJ-NP-Z]"
    rf"(?:[{_SERIAL}]{{4}}[{_SERIAL}挂学警港澳]"  # ordinary and special-suffix plates
    rf"|[DF][{_SERIAL}]{{5}}"  # small new-energy cars: D/F first
    rf"|[{_SERIAL}]{{5}}[DF])$"  # large new-energy vehicles: D/F last
)
_EMBASSY_RE = re.compile(r"^(?:使[0-9]{6}|[0-9]{3}[0-9]{3}使|[\u4e00-\u9fa5][A-Z][0-9A-Z]{4}领)$")


def normalise_plate(value):
    """Full-width to half-width, drop spaces, dots and dashes, upper-case."""
    if not isinstance(value, str):
        return ""
    text = unicodedata.normalize("NFKC", value)
    text = re.sub(r"[\s·•.\-_]", "", text)
    return text.upper()


def plate(value, required=False, allow_unknown=False):
    """A Chinese plate, including new-energy and special-suffix plates."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError("required", "This field is required.")
        return None
    if not isinstance(value, str) or len(value) > 16:
        raise FieldError("invalid_plate", "Not a valid licence plate.")
    text = normalise_plate(value)
    if _PLATE_RE.match(text) or _EMBASSY_RE.match(text):
        return text
    if allow_unknown and 5 <= len(text) <= 10 and re.fullmatch(r"[\w\u4e00-\u9fa5]+", text):
        # Staff may record formats newer than our rules; residents may not.
        return text
    raise FieldError("invalid_plate", "Not a valid licence plate.")


def mask_phone(e164):
    """+8613812345678 -> +86 138****5678, for screens."""
    if not e164:
        return ""
    if e164.startswith("+86") and len(e164) == 14:
        return f"+86 {e164[3:6]}****{e164[-4:]}"
    return e164[:-6] + "****" + e164[-2:] if len(e164) > 6 else "****"


def mask_id(number):
    """11010519491231002X -> 110105********002X."""
    if not number:
        return ""
    return number[:6] + "*" * 8 + number[-4:]


def report_window(args):
    """[from, to) from the query string (ISO with offset); the last 30 days by default; a bad one is a 400."""
    end, start = utcnow(), None
    try:
        if args.get("to"):
            end = parse_iso(args.get("to"))
        start = parse_iso(args.get("from")) if args.get("from") else end - timedelta(days=30)
    except (ValueError, TypeError):
        raise ValidationFailed({"from": ("invalid", "A time with its offset, e.g. 2026-01-01T08:00:00+08:00.")}) from None
    if start >= end or end - start > timedelta(days=400):
        raise ValidationFailed({"from": ("invalid", "Choose a period of at most 400 days.")})
    return start, end
