"""JSON shapes of walk-ins and item movements."""

from portal.core.validators import mask_id, mask_phone
from portal.walkins.queries import residents_of


def host_of_unit(unit):
    """{"name", "phone"} of the unit's first resident (the host the desk calls), phone masked; None when vacant."""
    people = residents_of(unit)
    return {"name": people[0].display_name, "phone": mask_phone(people[0].phone)} if people else None


def walk_in_json(w):
    """A walk-in as the desk sees it (phone and ID masked)."""
    return {
        "id": w.id,
        "status": w.status,
        "visitor": {
            "name": w.visitor_name,
            "phone": mask_phone(w.visitor_phone),
            "id_number": mask_id(w.visitor_id_number) or None,
            "plate": w.plate,
        },
        "unit": {"id": w.unit_id, "label": w.unit.label},
        "host": host_of_unit(w.unit),
        "gate_id": w.gate_id,
        "purpose": w.purpose,
        "approved_by": w.approved_by,
        "guard_reason": w.guard_reason,
        "pass_id": w.pass_id,
        "event_id": w.event_id,
        "created_at": w.created_at.isoformat(),
        "expires_at": w.expires_at.isoformat(),
        "decided_at": w.decided_at.isoformat() if w.decided_at else None,
    }


def item_json(i):
    """An item movement."""
    return {
        "id": i.id,
        "status": i.status,
        "direction": i.direction,
        "description": i.description,
        "quantity": i.quantity,
        "carrier_name": i.carrier_name,
        "plate": i.plate,
        "unit": {"id": i.unit_id, "label": i.unit.label},
        "gate_id": i.gate_id,
        "approved_by": i.approved_by,
        "permit_id": i.permit_id,
        "created_at": i.created_at.isoformat(),
        "expires_at": i.expires_at.isoformat(),
        "decided_at": i.decided_at.isoformat() if i.decided_at else None,
    }
