"""Forms of the face pages: consent (never pre-ticked), selfie upload, withdrawal, desk search."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField
from wtforms.validators import DataRequired


class ConsentForm(FlaskForm):
    """Separate, explicit consent: the box starts empty and must be ticked."""

    agree = BooleanField(
        _l("I agree that my face is used to open the gates during this pass, as explained above."),
        default=False,
        validators=[DataRequired(message=_l("Tick the box to give your consent."))],
    )


class PhotoForm(FlaskForm):
    """A selfie from the phone's camera or gallery."""

    photo = FileField(_l("Photo of your face"), validators=[FileRequired(message=_l("Choose a photo first."))])


class WithdrawForm(FlaskForm):
    """Withdraw consent and erase the face everywhere."""


class SearchForm(FlaskForm):
    """The desk's photo for a 1:N search."""

    photo = FileField(_l("Photo"), validators=[FileRequired(message=_l("Choose a photo first."))])
