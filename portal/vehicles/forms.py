"""The add-a-car form reads into the values the API takes."""

from flask import request

from portal.core.converters import is_id


def vehicle_data():
    """(plate, unit_id or None) from the posted form."""
    raw = (request.form.get("unit_id") or "").strip()
    unit_id = int(raw) if raw.isdigit() and is_id(int(raw)) else None
    return request.form.get("plate", ""), unit_id
