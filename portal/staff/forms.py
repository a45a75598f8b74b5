"""Staff forms: add a member, and the member's enrolment."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import Length

ROLE_LABELS = {"guard": _l("Guard"), "manager": _l("Manager")}
FIELD_LABELS = {
    "login": _l("Login"),
    "name": _l("Name"),
    "role": _l("Role"),
    "phone": _l("Mobile phone"),
    "password": _l("Password"),
    "confirm": _l("Password again"),
    "otp": _l("Authenticator code"),
}


class MemberForm(FlaskForm):
    """A new guard or manager."""

    login = StringField(_l("Login"), validators=[Length(max=64)])
    name = StringField(_l("Name"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=list(ROLE_LABELS.items()))
    phone = StringField(_l("Mobile phone (optional; the link goes there by SMS)"), validators=[Length(max=40)])


class EnrolForm(FlaskForm):
    """Password (new members only) and the first code from the authenticator."""

    password = PasswordField(_l("Password"), validators=[Length(max=200)])
    confirm = PasswordField(_l("Password again"), validators=[Length(max=200)])
    otp = StringField(_l("Authenticator code"), validators=[Length(max=8)])
