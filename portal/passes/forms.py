"""Pass forms for the resident's phone pages; validation rules live in schema.py."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import NumberRange, Optional

from portal.passes.labels import KIND_LABELS

# Which kinds of pass need which fields; the rest of the invite form is hidden for that kind (pass-resident.js).
KIND_FIELDS = {
    "visitor_id_number": ("contractor", "service"),
    "visitor_plate": ("guest", "delivery", "contractor", "service"),
    "entries": ("guest", "contractor", "service"),
    "schedule": ("contractor", "service"),
    "floors": ("contractor", "service"),
    "company": ("contractor", "service"),
    "work_area": ("contractor",),
}


class PassForm(FlaskForm):
    """Invite a visitor."""

    unit_id = SelectField(_l("Unit"), coerce=int)
    visitor_name = StringField(_l("Visitor's name"))
    visitor_phone = StringField(_l("Mobile phone"))
    visitor_id_number = StringField(_l("ID number (optional)"))
    visitor_plate = StringField(_l("Licence plate (optional)"))
    kind = SelectField(_l("Kind"), choices=list(KIND_LABELS.items()), default="guest")
    valid_from = DateTimeLocalField(_l("From"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    valid_until = DateTimeLocalField(_l("Until"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    # A guest pass lets one person in once unless the host says otherwise.
    max_entries = IntegerField(_l("Entries"), default=1, validators=[Optional(), NumberRange(min=1, max=1000)])
    unlimited = BooleanField(_l("Unlimited entries while the pass is valid"))
    days = SelectMultipleField(
        _l("Repeat on"),
        coerce=int,
        choices=[(1, _l("Mon")), (2, _l("Tue")), (3, _l("Wed")), (4, _l("Thu")), (5, _l("Fri")), (6, _l("Sat")), (7, _l("Sun"))],
        validators=[Optional()],
    )
    daily_start = StringField(_l("Daily from (HH:MM)"))
    daily_end = StringField(_l("Daily until (HH:MM)"))
    floors = SelectMultipleField(_l("Floors"), coerce=int, validators=[Optional()])
    company = StringField(_l("Company"))
    work_area = StringField(_l("Work area"))
    note = TextAreaField(_l("Note"))


class ExtendForm(FlaskForm):
    """Move the end later."""

    valid_until = DateTimeLocalField(_l("New end"), format="%Y-%m-%dT%H:%M", validators=[Optional()])


class RevokeForm(FlaskForm):
    """Revoke with an optional reason."""

    reason = StringField(_l("Reason (optional)"))
