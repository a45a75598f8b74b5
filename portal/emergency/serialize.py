"""The emergency's JSON shape: per device what it acknowledged, the roll call, the timings."""

from portal.emergency import queries
from portal.emergency.queries import seconds


def _iso(value):
    return value.isoformat() if value is not None else None


def emergency_json(emergency, with_people=False):
    """An emergency or drill; {"active": false} when there has never been one."""
    if emergency is None:
        return {"active": False, "kind": None, "devices": []}
    rows = queries.devices(emergency.id)
    people = queries.roll_call_shown(emergency) if with_people else queries.roll_call(emergency.id)
    out = {
        "id": emergency.id,
        "active": emergency.ended_at is None,
        "kind": emergency.kind,
        "reason": emergency.reason,
        "started_at": _iso(emergency.started_at),
        "ended_at": _iso(emergency.ended_at),
        "devices": [
            {
                "id": r.device_id,
                "name": r.device.name,
                "kind": r.device.kind,
                "mode": r.mode,
                "state": r.state,
                "error": r.error,
                "released_at": _iso(r.released_at),
                "restored_at": _iso(r.restored_at),
            }
            for r in rows
        ],
        "roll_call": {"total": len(people), "accounted": sum(1 for p in people if p.accounted_at is not None)},
        "timings": {
            "release_seconds": seconds(emergency.started_at, emergency.released_at) if emergency.releasing else None,
            "roll_call_seconds": seconds(emergency.started_at, emergency.roll_complete_at),
        },
    }
    if with_people:
        out["roll_call"]["people"] = [roll_json(p) for p in people]
    return out


def roll_json(entry):
    """One person on the roll call (full name: guards must recognise them at the assembly point)."""
    return {
        "id": entry.id,
        "pass_id": entry.pass_id,
        "name": entry.visitor_name,
        "kind": entry.pass_kind,
        "building": entry.building,
        "unit": entry.unit,
        "sms_sent": entry.sms_sent,
        "accounted_at": _iso(entry.accounted_at),
    }
