"""JSON shapes the desk shows: access events (masked) and exceptions."""

from portal.core.timeutil import local_text
from portal.desk.labels import (
    DECISION_LABELS,
    DIRECTION_LABELS,
    KIND_LABELS,
    METHOD_LABELS,
    OUTCOME_LABELS,
    REASON_LABELS,
    both,
    mask_name,
)


def event_payload(ev, tz_name="Asia/Shanghai"):
    """One access event for the live board; the visitor's name is masked, no phone or ID ever."""
    p = ev.pass_
    gate = ev.gate
    details = ev.details or {}
    visitor = p.visitor_name if p is not None else details.get("visitor_name")
    unit = p.unit.label if p is not None and p.unit is not None else details.get("unit")
    return {
        "id": ev.id,
        "site_id": ev.site_id,
        "at": ev.at.isoformat(),
        "ts": ev.at.timestamp(),
        "local_time": local_text(ev.at, tz_name, "%H:%M:%S"),
        "gate": {"id": gate.id, "code": gate.code, "name": gate.name, "name_en": gate.name_en} if gate is not None else None,
        "visitor": mask_name(visitor) if visitor else None,
        "kind": p.kind if p is not None else None,
        "unit": unit,
        "plate": ev.plate or (p.plate if p is not None else None),
        "method": ev.method,
        "method_label": both(METHOD_LABELS, ev.method),
        "decision": ev.decision,
        "decision_label": both(DECISION_LABELS, ev.decision),
        "reason": ev.reason,
        "reason_label": both(REASON_LABELS, ev.reason),
        "direction": ev.direction,
        "direction_label": both(DIRECTION_LABELS, ev.direction) if ev.direction else None,
        "remote": _remote(details) if ev.method == "remote" else None,
        "approved_by": ev.approved_by,
        "source": ev.source,
        "pass_id": ev.pass_id,
        "flags": sorted(k for k in ("burst", "offline_double_use", "lost_events", "emergency") if details.get(k)),
    }


def _remote(details):
    """Which device and door a guard opened, and who: as recorded with the remote open."""
    return {
        "device": details.get("device"),
        "device_en": details.get("device_en"),
        "door": details.get("door"),
        "guard": details.get("guard"),
    }


def exception_json(x):
    """An exception as the desk lists it."""
    return {
        "id": x.id,
        "kind": x.kind,
        "kind_label": both(KIND_LABELS, x.kind),
        "status": x.status,
        "count": x.count,
        "reason": x.reason,
        "reason_label": both(REASON_LABELS, x.reason) if x.reason else None,
        "gate": x.gate.name if x.gate is not None else None,
        "device": x.device.name if x.device is not None else None,
        "pass_id": x.pass_id,
        "first_event_id": x.first_event_id,
        "last_event_id": x.last_event_id,
        "opened_at": x.created_at.isoformat(),
        "last_seen_at": x.last_seen_at.isoformat(),
        "taken_by": x.taken_by.display_name if x.taken_by is not None else None,
        "taken_at": x.taken_at.isoformat() if x.taken_at else None,
        "closed_at": x.closed_at.isoformat() if x.closed_at else None,
        "outcome": x.outcome,
        "outcome_label": both(OUTCOME_LABELS, x.outcome) if x.outcome else None,
        "note": x.note,
        "details": x.details,
    }
