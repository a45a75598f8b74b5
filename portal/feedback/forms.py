"""Feedback forms for the phone pages and the team's pages; validation rules live in schema.py."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, MultipleFileField, RadioField, SelectField, StringField, TextAreaField

CATEGORY_LABELS = {
    "security": _l("Security"),
    "noise": _l("Noise"),
    "parking": _l("Parking"),
    "guard_conduct": _l("Guard conduct"),
    "facilities": _l("Facilities"),
    "other": _l("Other"),
}
PRIORITY_LABELS = {"urgent": _l("Urgent"), "high": _l("High"), "normal": _l("Normal"), "low": _l("Low")}
STATUS_LABELS = {
    "new": _l("New"),
    "triaged": _l("Triaged"),
    "in_progress": _l("Answered, in progress"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
OUTCOME_LABELS = {
    "solved": _l("Solved, resident satisfied"),
    "not_solved": _l("Not solved (reopen)"),
    "unreachable": _l("Resident unreachable"),
    "contacted": _l("Contacted"),
}
KIND_LABELS = {"complaint": _l("Complaint"), "suggestion": _l("Suggestion")}


class FilingForm(FlaskForm):
    """A resident's complaint or suggestion."""

    unit_id = SelectField(_l("Unit"), coerce=int, validate_choice=False)  # checked against the residencies in filing.py
    kind = RadioField(_l("Kind"), choices=list(KIND_LABELS.items()), default="complaint")
    category = SelectField(_l("Category"), choices=list(CATEGORY_LABELS.items()))
    location = StringField(_l("Where (optional)"))
    description = TextAreaField(_l("What happened"))
    anonymous = BooleanField(_l("Anonymous (suggestions only): the team will not see who wrote it"))
    photos = MultipleFileField(_l("Photos (up to 3; JPEG, PNG or WebP, 5 MB each)"))


class MessageForm(FlaskForm):
    """Add to a thread."""

    body = TextAreaField(_l("Message"))


class TriageForm(FlaskForm):
    """Priority and category."""

    priority = SelectField(_l("Priority"), choices=list(PRIORITY_LABELS.items()))
    category = SelectField(_l("Category"), choices=list(CATEGORY_LABELS.items()))


class AssignForm(FlaskForm):
    """Pick a team member."""

    assignee_id = SelectField(_l("Assign to"), coerce=int)


class OutcomeForm(FlaskForm):
    """The outcome of a follow-up."""

    outcome = SelectField(_l("Outcome"), choices=list(OUTCOME_LABELS.items()))
    note = TextAreaField(_l("What the resident said"))


class ReasonForm(FlaskForm):
    """Why it is reopened."""

    reason = StringField(_l("Reason"))


class SurveyForm(FlaskForm):
    """1 to 5 stars and a comment."""

    score = RadioField(_l("Your rating"), choices=[(str(n), str(n)) for n in range(5, 0, -1)])
    comment = TextAreaField(_l("Comment (optional)"))
