"""Handovers and posts as JSON."""


def _t(value):
    return value.isoformat() if value is not None else None


def post_json(post):
    """A guard's post."""
    if post is None:
        return None
    return {"kind": post.kind, "building_id": post.building_id, "gate_id": post.gate_id, "set_at": _t(post.set_at)}


def handover_json(shift, record=None):
    """An ended shift: who, when, the notes; with its record when given."""
    out = {
        "id": shift.id,
        "guard": {"id": shift.guard_id, "name": shift.guard.display_name},
        "started_at": _t(shift.started_at),
        "ended_at": _t(shift.ended_at),
        "notes": shift.notes,
        "open_exception_ids": list(shift.open_exception_ids or []),
    }
    if record is not None:
        out["incidents"] = [
            {"id": i.id, "kind": i.kind, "severity": i.severity, "status": i.status, "reported_at": _t(i.reported_at)}
            for i in record["incidents"]
        ]
        out["exceptions"] = [
            {
                "id": x.id,
                "kind": x.kind,
                "status": x.status,
                "created_at": _t(x.created_at),
                "handed_over": x.id in record["handed_over"],
            }
            for x in record["exceptions"]
        ]
        out["sections"] = [{"title": title, "items": items} for title, items in record["sections"]]
    return out
