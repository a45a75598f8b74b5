"""Reading the desk's HTML forms into the plain values the operations validate."""
from flask import flash, request
from flask_babel import gettext

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


def error_messages(exc):
    """Translated messages of an ApiError/ValidationFailed, for flashing on a page."""
    if getattr(exc, "fields", None):
        return [f"{name}: {gettext(f[1], **(f[2] if len(f) > 2 else {}))}" for name, f in exc.fields.items()]
    return [gettext(exc.message)]


def refused(exc):
    """Show why an action was refused and undo what it wrote before refusing.

    The page then redirects (302), which the request's commit would otherwise make final: a walk-in
    claimed for a decision must go back to pending when the guard's reason is too short.
    """
    db.session.rollback()
    for msg in error_messages(exc):
        flash(msg, "error")
