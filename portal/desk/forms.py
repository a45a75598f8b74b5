"""Reading the desk's HTML forms into the plain values the operations validate."""

from flask import flash, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l


def form_int(name):
    """An integer form field, or None when empty or not a number."""
    raw = (request.form.get(name) or "").strip()
    try:
        return int(raw) if raw else None
    except ValueError:
        return -1  # an invalid choice, reported by the operation


def form_text(name):
    """A text form field, None when empty."""
    raw = request.form.get(name)
    return raw if raw and raw.strip() else None


def watchlist_data():
    """Watchlist form -> operation values."""
    return {k: form_text(k) for k in ("kind", "name", "id_number", "phone", "plate", "reason")}


# The words the forms show next to their inputs: an error names the field as the guard sees it.
FIELD_LABELS = {
    "name": _l("Name"),
    "phone": _l("Phone"),
    "id_number": _l("ID number"),
    "plate": _l("Plate"),
    "unit_id": _l("Unit"),
    "gate_id": _l("Gate"),
    "purpose": _l("Purpose"),
    "reason": _l("Reason"),
    "description": _l("What"),
    "quantity": _l("Quantity"),
    "carrier_name": _l("Carried by"),
    "direction": _l("Direction"),
    "kind": _l("Kind"),
    "outcome": _l("Outcome"),
    "note": _l("Note"),
    "notes": _l("Note"),
    "options": _l("Options"),
    "gates": _l("Gates"),
    "driver": _l("Driver"),
}


def error_messages(exc, labels=None):
    """Translated messages of a refusal (or an ApiError), each led by its field's label, for flashing on a page."""
    if not getattr(exc, "fields", None):
        return [gettext(exc.message, **getattr(exc, "params", {}))]
    labels = FIELD_LABELS if labels is None else labels
    out = []
    for name, f in exc.fields.items():
        message = gettext(f[1], **(f[2] if len(f) > 2 else {}))
        out.append(f"{labels[name]}: {message}" if name in labels else message)
    return out


def flash_errors(exc):
    """Flash a refused form's reasons field by field (the page shows the form again with a 400; the hook rolls back)."""
    for msg in error_messages(exc):
        flash(msg, "error")
