"""JSON shapes of passes."""

from portal.core.timeutil import local, utcnow
from portal.core.validators import mask_id, mask_phone
from portal.passes.operations import link_for


def pass_json(p, viewer, messages=None):
    """A pass as the viewer may see it; staff see personal data masked."""
    now = utcnow()
    staff = viewer is not None and viewer.is_staff
    out = {
        "id": p.id,
        "status": p.state(now),
        "kind": p.kind,
        "visitor": {
            "name": p.visitor_name,
            "phone": mask_phone(p.visitor_phone) if staff else p.visitor_phone,
            "id_number": mask_id(p.visitor_id_number) if p.visitor_id_number else None,
            "plate": p.plate,
        },
        "unit": {"id": p.unit_id, "label": p.unit.label},
        "host_id": p.host_id,
        "valid_from": local(p.valid_from, p.timezone).isoformat(),
        "valid_until": local(p.valid_until, p.timezone).isoformat(),
        "timezone": p.timezone,
        "max_entries": p.max_entries,
        "uses": p.uses,
        "schedule": p.schedule,
        "gates": p.gate_ids,
        "floors": p.floors,
        "company": p.company,
        "work_area": p.work_area,
        "keypad_no": p.keypad_no,
        "revoked_at": p.revoked_at.isoformat() if p.revoked_at else None,
        "created_at": p.created_at.isoformat() if p.created_at else None,
    }
    if not staff:
        out["pass_url"] = link_for(p.link_token)
    if messages is not None:
        out["messages"] = [
            {
                "id": m.id,
                "purpose": m.purpose,
                "status": m.status,
                "error": m.error_code,
                "error_message": m.error_message,
                "created_at": m.created_at.isoformat(),
                "delivered_at": m.delivered_at.isoformat() if m.delivered_at else None,
            }
            for m in messages
        ]
    return out
