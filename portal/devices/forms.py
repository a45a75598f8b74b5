"""Device forms: name, kind, driver and a JSON editor for options."""

import json

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.devices.models import KINDS

KIND_LABELS = {
    "gate_reader": _l("Gate QR reader / keypad"),
    "door_controller": _l("Door controller"),
    "elevator_controller": _l("Elevator controller"),
    "face_terminal": _l("Face terminal"),
    "barrier": _l("Barrier"),
}
MAX_OPTIONS_CHARS = 8000


def parse_options(text):
    """The options editor's text as a dict; raises ValueError with a translatable message."""
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


def _json_object(form, field):
    try:
        field.parsed = parse_options(field.data)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class DeviceEditForm(FlaskForm):
    """Rename a device or change its options."""

    name = StringField(_l("Device name"), validators=[DataRequired(), Length(max=80)])
    name_en = StringField(_l("English name (optional)"), validators=[Optional(), Length(max=80)])
    options = TextAreaField(_l("Options (JSON)"), validators=[_json_object])


class DeviceAddForm(DeviceEditForm):
    """A new device."""

    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in KINDS])
    driver = SelectField(_l("Driver"), choices=[])

    def set_drivers(self, slugs):
        """Offer the drivers the bridge knows."""
        self.driver.choices = [SelectChoice(s, s) for s in sorted(slugs)]
        if not self.driver.data:
            self.driver.data = "simulator" if "simulator" in slugs else None
