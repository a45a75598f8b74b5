"""Figures read from the door alarms and emergency features (portal.alarms, portal.emergency) when they are installed.

reports.team fills its HOOKS from here at import; either feature may be absent, and then its KPI says so.
"""

from importlib.util import find_spec

from portal.extensions import db

HAS_ALARMS = find_spec("portal.alarms") is not None
HAS_EMERGENCY = find_spec("portal.emergency") is not None


def alarm_ack_minutes(site_id, start, end):
    """Minutes from raised to acknowledged, for the site's alarms raised in [start, end) and acknowledged."""
    from portal.alarms.models import Alarm

    rows = db.session.execute(
        db.select(Alarm.raised_at, Alarm.acknowledged_at).where(
            Alarm.site_id == site_id, Alarm.raised_at >= start, Alarm.raised_at < end, Alarm.acknowledged_at.is_not(None)
        )
    ).all()
    return [(acked - raised).total_seconds() / 60 for raised, acked in rows]


def drills(site_id, start, end):
    """Drills started in [start, end), with the minutes to a full roll call."""
    from portal.emergency.models import Emergency

    rows = db.session.scalars(
        db.select(Emergency)
        .where(Emergency.site_id == site_id, Emergency.kind == "drill", Emergency.started_at >= start, Emergency.started_at < end)
        .order_by(Emergency.started_at)
    ).all()
    return [
        {
            "id": e.id,
            "started_at": e.started_at.isoformat(),
            "ended_at": e.ended_at.isoformat() if e.ended_at else None,
            "roll_call_minutes": round((e.roll_complete_at - e.started_at).total_seconds() / 60, 2)
            if e.roll_complete_at
            else None,
        }
        for e in rows
    ]
