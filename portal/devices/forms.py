"""Device forms: name and kind, then one field per option the driver declares, and what the device serves."""

import json
import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.core.errors import ValidationFailed, field_messages
from portal.devices import driver_options
from portal.devices.models import KINDS

KIND_LABELS = {
    "gate_reader": _l("Gate QR reader / keypad"),
    "door_controller": _l("Door controller"),
    "elevator_controller": _l("Elevator controller"),
    "face_terminal": _l("Face terminal"),
    "barrier": _l("Barrier"),
}
MAX_OPTIONS_CHARS = 8000
SERVING = ("gates", "doors", "floors", "building")


def parse_options(text):
    """The JSON editor's text as a dict; raises ValueError with a translatable message."""
    text = (text or "").strip() or "{}"
    if len(text) > MAX_OPTIONS_CHARS:
        raise ValueError(_l("Options are too long."))
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(_l('Options must be valid JSON, for example {"url": "mqtt://broker:1883"}.')) from None
    if not isinstance(value, dict):
        raise ValueError(_l("Options must be a JSON object."))
    return value


def _numbers(text):
    """ "1, 2, 5-7" as [1, 2, 5, 6, 7]; ValueError on anything else."""
    out = []
    for part in filter(None, (p.strip() for p in re.split(r"[,，、\s]+", text or ""))):
        match = re.fullmatch(r"(-?\d{1,4})(?:-(-?\d{1,4}))?", part)
        if not match:
            raise ValueError(part)
        lo, hi = int(match[1]), int(match[2] or match[1])
        if hi < lo or hi - lo > 200:
            raise ValueError(part)
        out.extend(range(lo, hi + 1))
    return sorted(set(out))


class DeviceEditForm(FlaskForm):
    """Name, what the device serves, and (added per driver) its options."""

    name = StringField(_l("Device name"), validators=[DataRequired(), Length(max=80)])
    name_en = StringField(_l("English name (optional)"), validators=[Optional(), Length(max=80)])
    gates = SelectMultipleField(_l("Gates"), choices=[], validators=[Optional()])
    doors = StringField(_l("Doors"), validators=[Optional(), Length(max=200)])
    floors = StringField(_l("Floors"), validators=[Optional(), Length(max=200)])
    building = SelectField(_l("Building"), choices=[], validators=[Optional()])
    options = TextAreaField(_l("Advanced: all options as JSON"), validators=[Optional(), Length(max=MAX_OPTIONS_CHARS)])

    def option_fields(self):
        """The generated fields, in the driver's order, each with its declared option."""
        return [(self[o.field], o) for o in self.declared]

    def set_places(self, gates, buildings):
        """Offer the site's gates and buildings as choices (label: name in the page's language)."""
        self.gates.choices = [SelectChoice(v, t) for v, t in gates]
        self.building.choices = [SelectChoice("", _l("Whole site"))] + [SelectChoice(v, t) for v, t in buildings]

    def note_secrets(self, stored):
        """Remember which secrets are stored, so their fields say "leave blank to keep it" and are not required."""
        self.stored_secrets = {o.name for o in self.declared if o.secret and (stored or {}).get(o.name)}

    def fill(self, device):
        """Start from a stored device: serving columns and options, secrets left blank."""
        self.name.data, self.name_en.data = device.name, device.name_en
        self.gates.data = [str(g) for g in (device.gate_ids or [])]
        self.doors.data = ", ".join(str(d) for d in device.doors or [])
        self.floors.data = ", ".join(str(f) for f in device.floors or [])
        self.building.data = str(device.building_id or "")
        for field, opt in self.option_fields():
            if not opt.secret and opt.name in (device.options or {}):
                field.data = device.options[opt.name]
        self.options.data = ""

    def serving(self, gate_codes, building_codes):
        """The serving keys operations.split_options takes, or field errors."""
        out = {"gates": [gate_codes[int(g)] for g in self.gates.data or [] if int(g) in gate_codes]}
        for name in ("doors", "floors"):
            try:
                out[name] = _numbers(self[name].data)
            except ValueError:
                self[name].errors = [*self[name].errors, _l("Numbers separated by commas, e.g. 1, 2 or 3-5.")]
        if self.building.data:
            out["building"] = building_codes.get(int(self.building.data))
        return out

    def driver_options(self, stored):
        """Typed options from the fields (or the JSON editor when filled in), checked against the declaration.

        Errors land on their fields in the page's language; returns None when there were any.
        """
        try:
            if (self.options.data or "").strip():
                try:
                    submitted = parse_options(self.options.data)
                except ValueError as exc:
                    self.options.errors = [*self.options.errors, str(exc)]
                    return None
                serving = {k: submitted.pop(k) for k in SERVING if k in submitted}
                return driver_options.clean(self.declared, submitted, stored, strict=True) | serving
            submitted = {}
            for field, opt in self.option_fields():
                submitted[opt.name] = ("true" if field.data else "false") if opt.type == "bool" else field.data
            kept = {k: val for k, val in (stored or {}).items() if k not in {o.name for o in self.declared}}
            # Settings the form cannot show (set through the API or the CLI) are kept as they are.
            return kept | driver_options.clean(self.declared, submitted, stored, strict=True)
        except ValidationFailed as exc:
            messages = field_messages(exc)
            for name, message in messages.items():
                opt = next((o for o in self.declared if o.name == name), None)
                field = self[opt.field] if opt else self.options
                field.errors = [*field.errors, message]
            return None


class DeviceAddForm(DeviceEditForm):
    """A new device: its kind too (the driver is picked first, on its own form)."""

    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in KINDS])


def _field(opt):
    label, description = opt.label, opt.help
    if opt.secret:
        return PasswordField(label, description=description, validators=[Optional()])
    if opt.type == "bool":
        return BooleanField(label, description=description, default=bool(opt.default))
    if opt.type == "choice":
        return SelectField(
            label,
            description=description,
            choices=[SelectChoice(v, t) for v, t in opt.choices],
            default=opt.default,
            validate_choice=False,
        )
    default = "" if opt.default is None else opt.default
    return StringField(label, description=description, default=default, validators=[Optional()])


def form_for(base, spec):
    """A form class with one field per option the driver declares."""
    declared = tuple(spec.options)
    attrs = {o.field: _field(o) for o in declared} | {"declared": declared, "stored_secrets": frozenset()}
    return type(f"{base.__name__}_{spec.slug}", (base,), attrs)


class TokenForm(FlaskForm):
    """Issue a device token; rotating stops the device's other tokens at once."""

    name = StringField(_l("Label (optional)"), validators=[Optional(), Length(max=80)])
    rotate = BooleanField(_l("Rotate: the device's other tokens stop working now"))
