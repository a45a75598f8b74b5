"""Residents' forms: move in from the unit page, and the resident's own activation."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import Length

RELATION_LABELS = {"owner": _l("Owner"), "tenant": _l("Tenant"), "family": _l("Family member")}
FIELD_LABELS = {
    "name": _l("Name"),
    "phone": _l("Mobile phone"),
    "relation": _l("Relation"),
    "move_in": _l("Move-in date"),
    "date": _l("Move-out date"),
    "password": _l("Password"),
    "confirm": _l("Password again"),
}
LINK_STATES = {
    "none": _l("Not sent"),
    "open": _l("Sent, waiting"),
    "expired": _l("Link expired"),
    "replaced": _l("Link replaced"),
    "used": _l("Activated"),
}


class MoveInForm(FlaskForm):
    """A resident moving into the unit; a new person gets the activation link by SMS."""

    name = StringField(_l("Name"), validators=[Length(max=200)])
    phone = StringField(_l("Mobile phone"), validators=[Length(max=40)])
    relation = SelectField(_l("Relation"), choices=list(RELATION_LABELS.items()))
    move_in = StringField(_l("Move-in date"), validators=[Length(max=20)])


class ActivateForm(FlaskForm):
    """The resident's first password."""

    password = PasswordField(_l("Password"), validators=[Length(max=200)])
    confirm = PasswordField(_l("Password again"), validators=[Length(max=200)])
