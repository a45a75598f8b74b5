"""JSON shapes of permits and freight approvals; ID numbers and phones always masked."""

from portal.core.validators import mask_id, mask_phone


def permit_json(permit):
    """A permit as its applicant and the site's staff see it."""
    return {
        "id": permit.id,
        "kind": permit.kind,
        "status": permit.status,
        "unit": {"id": permit.unit_id, "label": permit.unit.label},
        "applicant_id": permit.applicant_id,
        "company": permit.company,
        "responsible": {"name": permit.responsible_name, "phone": mask_phone(permit.responsible_phone)},
        "work_area": permit.work_area,
        "starts_on": permit.starts_on.isoformat(),
        "ends_on": permit.ends_on.isoformat(),
        "days": permit.days,
        "daily_start": permit.daily_start,
        "daily_end": permit.daily_end,
        "plates": permit.plates,
        "workers": [
            {"id": w.id, "name": w.name, "phone": mask_phone(w.phone), "id_number": mask_id(w.id_number), "pass_id": w.pass_id}
            for w in permit.workers
        ],
        "documents": [{"id": d.id, "kind": d.kind, "content_type": d.content_type, "size": d.size} for d in permit.documents],
        "decision_reason": permit.decision_reason,
        "decided_at": permit.decided_at.isoformat() if permit.decided_at else None,
        "created_at": permit.created_at.isoformat() if permit.created_at else None,
    }


def freight_json(row):
    """A freight approval."""
    return {
        "id": row.id,
        "plate": row.plate,
        "company": row.company,
        "purpose": row.purpose,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat(),
        "status": row.status,
    }
