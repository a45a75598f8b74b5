"""Turning feedback input (JSON or form) into clean values, with per-field errors."""

from portal.core import validators as v
from portal.core.errors import ValidationFailed
from portal.core.i18n import N_
from portal.feedback.models import CATEGORIES, HELP_CATEGORIES, KINDS, OUTCOMES, PRIORITIES

MAX_DESCRIPTION = 4000
MAX_MESSAGE = 4000
MAX_LOCATION = 120


def _text(errors, name, value, **kwargs):
    return v.collect(errors, name, v.clean_text, value, **kwargs)


CHOICE_MESSAGE = N_("Choose one of the offered values.")


def _choice(errors, name, value, choices, default=None, message=CHOICE_MESSAGE):
    if value in (None, "") and default is not None:
        return default
    if not isinstance(value, str) or value not in choices:
        errors[name] = ("invalid_choice", message, {})
        return None
    return value


def _flag(value):
    # "y" is what a WTForms checkbox sends: missing it stored a ticked anonymous suggestion with its author.
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "on", "yes", "y"))


def parse_filing(data):
    """Kind, category, location, description and anonymity of a new filing."""
    errors = {}
    out = {
        "kind": _choice(errors, "kind", data.get("kind"), KINDS, default="complaint"),
        "category": _choice(errors, "category", data.get("category"), CATEGORIES),
        "location": _text(errors, "location", data.get("location"), max_len=MAX_LOCATION, required=False),
        "description": _text(errors, "description", data.get("description"), max_len=MAX_DESCRIPTION, multiline=True),
        "anonymous": _flag(data.get("anonymous")),
    }
    if out["kind"] and out["category"] and (out["kind"] == "help") != (out["category"] in HELP_CATEGORIES):
        errors["category"] = (
            "invalid_choice",
            N_("A help request is for someone locked out, an escort or a held delivery; other filings use the other categories."),
            {},
        )
    if out["anonymous"] and out["kind"] != "suggestion":
        errors["anonymous"] = (
            "anonymous_complaint",
            N_("Only suggestions can be anonymous; a complaint needs someone to answer."),
            {},
        )
    if errors:
        raise ValidationFailed(errors)
    return out


def parse_message(data, max_len=MAX_MESSAGE, name="body"):
    """The text of a thread message or an answer."""
    errors = {}
    body = _text(errors, name, data.get(name), max_len=max_len, multiline=True)
    if errors:
        raise ValidationFailed(errors)
    return body


def parse_priority(data):
    """Priority (required) and, optionally, a corrected category."""
    errors = {}
    priority = _choice(errors, "priority", data.get("priority"), PRIORITIES)
    category = data.get("category")
    if category not in (None, ""):
        category = _choice(errors, "category", category, CATEGORIES)
    else:
        category = None
    if errors:
        raise ValidationFailed(errors)
    return priority, category


def parse_outcome(data, allowed=OUTCOMES):
    """A follow-up outcome and its note (both required)."""
    errors = {}
    outcome = _choice(errors, "outcome", data.get("outcome"), allowed)
    note = _text(errors, "note", data.get("note"), max_len=MAX_MESSAGE, multiline=True)
    if errors:
        raise ValidationFailed(errors)
    return outcome, note


def parse_id(data, name):
    """A positive integer id from JSON or a form."""
    value = data.get(name)
    if isinstance(value, str) and (value.isascii() and value.isdigit() and len(value) < 10):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ValidationFailed({name: ("invalid", N_("Choose one of the offered values."), {})})
    return value


def parse_survey(data):
    """1 to 5 stars and an optional comment."""
    errors = {}
    score = data.get("score")
    if isinstance(score, str) and (score.isascii() and score.isdigit() and len(score) < 10):
        score = int(score)
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        errors["score"] = ("invalid_score", N_("Choose 1 to 5 stars."), {})
    comment = _text(errors, "comment", data.get("comment"), max_len=1000, required=False, multiline=True)
    if errors:
        raise ValidationFailed(errors)
    return score, comment
