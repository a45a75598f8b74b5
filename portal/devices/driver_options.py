"""Each driver's options, declared with type, limits, help and secrecy; one check serves the form, its JSON editor and the API.

The device form is generated from these declarations, so adding an option here adds a field there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l

from portal.core import validators as v
from portal.core.errors import ValidationFailed
from portal.core.i18n import N_

SET = "••• set"  # how a stored secret is shown in the JSON editor (portal.devices.changes masks with it)
TYPES = ("text", "int", "float", "bool", "choice", "url", "hex", "timezone")
_TRUE, _FALSE = ("true", "y", "yes", "on", "1"), ("false", "n", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    """One driver option: what the form shows and what a value must be."""

    name: str
    label: object
    help: object
    type: str = "text"
    required: bool = False
    default: object = None
    choices: tuple = ()  # ((value, label), ...) for type "choice"
    secret: bool = False  # never shown again once stored; left blank on the form keeps it
    min: float | None = None
    max: float | None = None
    schemes: tuple = ()  # for type "url"
    digits: int | None = None  # for type "hex"
    max_len: int = 200

    @property
    def field(self):
        """The form field's name (prefixed so an option never clashes with the form's own fields)."""
        return f"o_{self.name}"


def _number(opt, value):
    if isinstance(value, bool):
        raise v.FieldError("invalid", "Enter a number.")
    try:
        number = (int if opt.type == "int" else float)(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        msg = "Enter a whole number." if opt.type == "int" else "Enter a number."
        raise v.FieldError("invalid", msg) from None
    if opt.type == "float" and number != number:  # NaN compares unequal to itself
        raise v.FieldError("invalid", "Enter a number.")
    if (opt.min is not None and number < opt.min) or (opt.max is not None and number > opt.max):
        raise v.FieldError("out_of_range", "Enter a value from %(min)s to %(max)s.", min=f"{opt.min:g}", max=f"{opt.max:g}")
    return number


def _bool(value):
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise v.FieldError("invalid", "This field must be true or false.")


def _url(opt, value):
    text = v.clean_text(value, max_len=opt.max_len)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in opt.schemes or not parts.hostname or (port is not None and port == 0):
        example = f"{opt.schemes[0]}://192.168.1.20"
        raise v.FieldError("invalid", "Enter an address like %(example)s.", example=example)
    return text


def coerce(opt, value):
    """The typed value of one option, or a FieldError with a translatable message."""
    if opt.type in ("int", "float"):
        return _number(opt, value)
    if opt.type == "bool":
        return _bool(value)
    if opt.type == "choice":
        allowed = [c[0] for c in opt.choices]
        if value not in allowed:
            raise v.FieldError("invalid", "Choose one of %(choices)s.", choices=", ".join(allowed))
        return value
    if opt.type == "url":
        return _url(opt, value)
    text = v.clean_text(value, max_len=opt.max_len)
    if opt.type == "hex" and not re.fullmatch(rf"[0-9a-fA-F]{{{opt.digits}}}", text):
        raise v.FieldError("invalid", "Enter exactly %(n)s hexadecimal digits (0-9, a-f).", n=opt.digits)
    if opt.type == "timezone":
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise v.FieldError("invalid", "Enter a time zone like Asia/Shanghai.") from None
    return text


def _blank(value):
    return value is None or (isinstance(value, str) and value.strip() in ("", SET))


def clean(declared, submitted, stored=None, strict=True):
    """Typed driver options from submitted values; raises ValidationFailed naming each bad option.

    Secrets left blank (or as "••• set") keep the stored value. Names the driver does not declare are
    refused when strict (the form's JSON editor) and passed through otherwise (the API and the CLI,
    whose callers may set a driver's rarer settings).
    """
    stored = stored or {}
    by_name = {o.name: o for o in declared}
    errors, out = {}, {}
    unknown = sorted(str(k) for k in submitted if k not in by_name)
    if unknown and strict:
        errors["options"] = ("unknown", N_("Unknown options: %(names)s."), {"names": ", ".join(unknown)})
    for opt in declared:
        value = submitted.get(opt.name)
        if opt.type != "bool" and _blank(value):
            if opt.secret and stored.get(opt.name) not in (None, ""):
                out[opt.name] = stored[opt.name]
            elif opt.required:
                errors[opt.name] = ("required", N_("This field is required."), {})
            continue
        if value is None:
            continue
        out[opt.name] = v.collect(errors, opt.name, coerce, opt, value)
    if errors:
        raise ValidationFailed(errors)
    return out if strict else {k: val for k, val in submitted.items() if k not in by_name} | out


def _float(name, label, hint, default, lo, hi, **kw):
    return Option(name, label, hint, "float", default=default, min=lo, max=hi, **kw)


def _timeout(default=5):
    return _float("timeout", _l("Time-out (seconds)"), _l("How long to wait for each answer."), default, 0.5, 60)


SIMULATOR_OPTIONS = (
    _float("delay", _l("Delay (seconds)"), _l("How long each simulated call takes."), 0, 0, 30),
    Option(
        "fail_mode",
        _l("Simulated failure"),
        _l("Make every call fail the way a real device can."),
        "choice",
        choices=(("", _l("None")), ("auth", _l("Wrong password")), ("reject", _l("Credential rejected"))),
    ),
    Option("state_file", _l("State file"), _l("JSON file that keeps the simulated credential table across processes.")),
)
MQTT_OPTIONS = (
    Option(
        "url",
        _l("Broker address"),
        _l("The MQTT broker, e.g. mqtt://192.168.1.5:1883 (mqtts:// for TLS)."),
        "url",
        required=True,
        schemes=("mqtt", "mqtts"),
    ),
    Option(
        "topic",
        _l("Topic"),
        _l("The controller's topic, e.g. door/1: commands then go to door/1/cmd and answers come on door/1/send."),
        required=True,
        max_len=120,
    ),
    Option("username", _l("Broker user"), _l("Leave blank when the broker needs no login."), max_len=80),
    Option("password", _l("Broker password"), _l("Stored encrypted and never shown again."), secret=True, max_len=120),
    Option("doorip", _l("Controller address"), _l("The controller's IP address as esp-rfid expects it in commands."), max_len=80),
    _timeout(),
)
ISAPI_OPTIONS = (
    Option(
        "url",
        _l("Device address"),
        _l("http://192.168.1.64 or https://…, with :port when it is not the usual one."),
        "url",
        required=True,
        schemes=("http", "https"),
    ),
    Option("username", _l("User"), _l("The device's user for Digest login (usually admin)."), default="admin", max_len=80),
    Option("password", _l("Password"), _l("Stored encrypted and never shown again."), secret=True, required=True, max_len=120),
    Option(
        "kind",
        _l("Device family"),
        _l("Door controllers, face terminals and elevator controllers take different requests."),
        "choice",
        default="face",
        choices=(("door", _l("Door controller")), ("face", _l("Face terminal")), ("elevator", _l("Elevator controller"))),
    ),
    Option("timezone", _l("Time zone"), _l("The device's local time zone."), "timezone", default="Asia/Shanghai", max_len=64),
    Option(
        "door_count",
        _l("Number of doors"),
        _l("How many doors the device drives; an emergency release holds each of them open."),
        "int",
        default=1,
        min=1,
        max=8,
    ),
    Option("fdid", _l("Face library id"), _l("Which face library faces go to (FDID)."), default="1", max_len=16),
    Option(
        "face_lib",
        _l("Face library type"),
        _l("blackFD on most access terminals."),
        "choice",
        default="blackFD",
        choices=(("blackFD", "blackFD"), ("staticFD", "staticFD")),
    ),
    Option(
        "verify",
        _l("Check the TLS certificate"),
        _l("Turn off only for a device with a self-signed certificate."),
        "bool",
        default=True,
    ),
    _timeout(),
    _float(
        "delete_timeout",
        _l("Deletion time-out (seconds)"),
        _l("How long to wait for the device to finish a deletion."),
        10,
        1,
        120,
    ),
)
OSDP_OPTIONS = (
    Option("transport", _l("Transport"), _l("How the reader is reached."), "choice", default="tcp", choices=(("tcp", "TCP"),)),
    Option(
        "host", _l("Reader address"), _l("IP address or name of the reader's serial-to-TCP bridge."), required=True, max_len=120
    ),
    Option("port", _l("Port"), _l("TCP port of the reader."), "int", required=True, min=1, max=65535),
    Option("address", _l("OSDP address"), _l("The reader's address on its bus."), "int", default=1, min=0, max=126),
    Option(
        "scbk",
        _l("Secure channel key"),
        _l("32 hexadecimal digits; stored encrypted and never shown again."),
        "hex",
        required=True,
        secret=True,
        digits=32,
    ),
    Option("relay_output", _l("Strike output"), _l("The output that drives the door strike."), "int", default=0, min=0, max=15),
    _float("pulse_seconds", _l("Strike time (seconds)"), _l("How long the strike stays open."), 3, 0.5, 60),
    Option("code_length", _l("Code length"), _l("Digits in a typed code; blank for the site's default."), "int", min=4, max=12),
    _float("keypad_timeout", _l("Keypad time-out (seconds)"), _l("A half-typed code is dropped after this."), 5, 1, 60),
    Option(
        "card_method",
        _l("What the reader scans"),
        _l("QR codes, or plain cards."),
        "choice",
        default="qr",
        choices=(("qr", _l("QR codes")), ("card", _l("Cards"))),
    ),
)
