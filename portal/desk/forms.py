"""Reading the desk's HTML forms into the plain values the operations validate."""
from flask import flash, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from portal.extensions import db


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


def walk_in_data():
    """Walk-in form -> operation values."""
    return {"name": form_text("name"), "phone": form_text("phone"), "id_number": form_text("id_number"),
            "plate": form_text("plate"), "unit_id": form_int("unit_id"), "gate_id": form_int("gate_id"),
            "purpose": form_text("purpose")}


def item_data():
    """Item-movement form -> operation values."""
    qty = form_int("quantity")
    return {"unit_id": form_int("unit_id"), "direction": form_text("direction"), "description": form_text("description"),
            "quantity": 1 if qty is None else qty, "carrier_name": form_text("carrier_name"), "plate": form_text("plate"),
            "gate_id": form_int("gate_id")}


def watchlist_data():
    """Watchlist form -> operation values."""
    return {k: form_text(k) for k in ("kind", "name", "id_number", "phone", "plate", "reason")}


# The words the forms show next to their inputs: an error names the field as the guard sees it.
FIELD_LABELS = {
    "name": _l("Name"), "phone": _l("Phone"), "id_number": _l("ID number"), "plate": _l("Plate"), "unit_id": _l("Unit"),
    "gate_id": _l("Gate"), "purpose": _l("Purpose"), "reason": _l("Reason"), "description": _l("What"),
    "quantity": _l("Quantity"), "carrier_name": _l("Carried by"), "direction": _l("Direction"), "kind": _l("Kind"),
    "outcome": _l("Outcome"), "note": _l("Note"), "notes": _l("Note"), "options": _l("Options"), "gates": _l("Gates"),
    "driver": _l("Driver"),
}


def error_messages(exc, labels=None):
    """Translated messages of an ApiError/ValidationFailed, each led by its field's label, for flashing on a page."""
    if not getattr(exc, "fields", None):
        return [gettext(exc.message)]
    labels = FIELD_LABELS if labels is None else labels
    out = []
    for name, f in exc.fields.items():
        message = gettext(f[1], **(f[2] if len(f) > 2 else {}))
        out.append(f"{labels[name]}: {message}" if name in labels else message)
    return out


def refused(exc):
    """Show why an action was refused and undo what it wrote before refusing.

    The page then redirects (302), which the request's commit would otherwise make final: a walk-in
    claimed for a decision must go back to pending when the guard's reason is too short.
    """
    db.session.rollback()
    for msg in error_messages(exc):
        flash(msg, "error")
