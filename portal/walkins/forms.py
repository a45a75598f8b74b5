"""Reading the walk-in and item-movement forms into the plain values the operations validate."""

from portal.desk.forms import form_int, form_text


def walk_in_data():
    """Walk-in form -> operation values."""
    return {
        "name": form_text("name"),
        "phone": form_text("phone"),
        "id_number": form_text("id_number"),
        "plate": form_text("plate"),
        "unit_id": form_int("unit_id"),
        "gate_id": form_int("gate_id"),
        "purpose": form_text("purpose"),
    }


def item_data():
    """Item-movement form -> operation values."""
    qty = form_int("quantity")
    return {
        "unit_id": form_int("unit_id"),
        "direction": form_text("direction"),
        "description": form_text("description"),
        "quantity": 1 if qty is None else qty,
        "carrier_name": form_text("carrier_name"),
        "plate": form_text("plate"),
        "gate_id": form_int("gate_id"),
    }
