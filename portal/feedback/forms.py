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
    "locked_out": _l("Locked out"),
    "escort": _l("Needs an escort"),
    "delivery_held": _l("Delivery held"),
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
KIND_LABELS = {"complaint": _l("Complaint"), "suggestion": _l("Suggestion"), "help": _l("Help request")}
SOURCE_LABELS = {"resident": _l("Resident"), "counter": _l("At the counter"), "phone": _l("By phone"), "hotline": _l("Hotline")}
# The resident's own form: complaints and suggestions (help requests come by phone or to the counter).
FILING_KINDS = ("complaint", "suggestion")
FILING_CATEGORIES = ("security", "noise", "parking", "guard_conduct", "facilities", "other")


class FilingForm(FlaskForm):
    """A resident's complaint or suggestion."""

    unit_id = SelectField(_l("Unit"), coerce=int, validate_choice=False)  # checked against the residencies in filing.py
    kind = RadioField(_l("Kind"), choices=[(k, KIND_LABELS[k]) for k in FILING_KINDS], default="complaint")
    category = SelectField(_l("Category"), choices=[(c, CATEGORY_LABELS[c]) for c in FILING_CATEGORIES])
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
