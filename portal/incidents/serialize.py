"""An incident as JSON, for the API and the desk."""

from flask import url_for

from portal.shifts.queries import offers_for


def _t(value):
    return value.isoformat() if value is not None else None


def _who(user):
    return {"id": user.id, "name": user.display_name} if user is not None else None


def incident_json(inc, full=False):
    """The list form; full adds the timeline, people, photos and offers."""
    out = {
        "id": inc.id,
        "kind": inc.kind,
        "severity": inc.severity,
        "status": inc.status,
        "source": inc.source,
        "location": inc.location,
        "building_id": inc.building_id,
        "device_id": inc.device_id,
        "alarm_id": inc.alarm_id,
        "reported_at": _t(inc.reported_at),
        "reported_by": _who(inc.reported_by),
        "acknowledged_at": _t(inc.acknowledged_at),
        "acknowledged_by": _who(inc.acknowledged_by),
        "on_scene_at": _t(inc.on_scene_at),
        "on_scene_by": _who(inc.on_scene_by),
        "resolved_at": _t(inc.resolved_at),
        "resolved_by": _who(inc.resolved_by),
    }
    if not full:
        return out
    out["description"] = inc.description
    out["closing_report"] = inc.closing_report
    out["assigned"] = [dict(_who(a.user), assigned_at=_t(a.assigned_at)) for a in inc.assignees]
    out["timeline"] = [
        {"action": e.action, "at": _t(e.at), "by": _who(e.actor), "note": e.note, "details": e.details or {}} for e in inc.events
    ]
    out["photos"] = [
        {
            "id": p.id,
            "content_type": p.content_type,
            "width": p.width,
            "height": p.height,
            "url": url_for("api.incident_photo", incident_id=inc.id, photo_id=p.id),
        }
        for p in inc.photos
    ]
    out["offered_to"] = [
        {"guard_id": o.guard_id, "wave": o.wave, "offered_at": _t(o.offered_at), "answered_at": _t(o.answered_at)}
        for o in offers_for("incident", inc.id)
    ]
    return out
