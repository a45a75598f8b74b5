"""The security team's own KPIs: incident response against a year earlier, alarm acknowledgement, device availability.

Definitions in docs/reports.md. Incident response is compared with the same dates a year earlier, as the seed's
aim reads (突发事件处置响应时间缩短20%); complaint figures keep their own targets in queries.py.
"""

from collections.abc import Callable

from portal.desk.models import DeskException
from portal.devices.models import Device
from portal.extensions import db
from portal.incidents.queries import percentile, response_times

AIM_INCIDENT_RESPONSE = -0.20  # seed: emergency response time down 20% (突发事件处置响应时间缩短20%)
DEVICE_TARGET = 0.98  # seed: key security equipment in working order at least 98% (完好率达到98%以上)
STAGES = ("acknowledge", "on_scene", "resolve")
# Filled in by the features that own the data (portal.alarms, portal.emergency) in their init_app:
#   "alarm_ack_minutes": fn(site_id, start, end) -> [minutes from raised to acknowledged, one per alarm]
#   "drills": fn(site_id, start, end) -> [{"kind", "started_at", ...}, ...]
HOOKS: dict[str, Callable | None] = {
    "alarm_ack_minutes": None,
    "drills": None,
}


def _change(current, previous):
    if current is None or not previous:
        return None
    return round((current - previous) / previous, 4)


def incidents(site_id, period):
    """Report → acknowledged, → on scene, → resolved: medians and 90th percentiles against a year earlier."""
    year_ago = period.year_earlier()
    cur, old = response_times(site_id, period.start, period.end), response_times(site_id, year_ago.start, year_ago.end)
    out = {k: cur[k] for k in ("reported", "by_severity", "unacknowledged", "escalated")}
    out.update(year_ago_period=year_ago.as_json(), year_ago_reported=old["reported"], aim=AIM_INCIDENT_RESPONSE)
    for stage in STAGES:
        now_, then = cur[stage], old[stage]
        change = _change(now_["median_minutes"], then["median_minutes"])
        out[stage] = {
            **now_,
            "year_ago": then,
            "change": change,
            "p90_change": _change(now_["p90_minutes"], then["p90_minutes"]),
            "aim_met": None if change is None else change <= AIM_INCIDENT_RESPONSE + 1e-9,
        }
    return out


def alarms(site_id, period):
    """Minutes from a door alarm to its acknowledgement, when the alarms feature is present."""
    fn = HOOKS["alarm_ack_minutes"]
    if fn is None:
        return {"available": False}
    minutes = fn(site_id, period.start, period.end)
    return {
        "available": True,
        "acknowledged": len(minutes),
        "median_minutes": round(percentile(minutes, 50), 2) if minutes else None,
        "p90_minutes": round(percentile(minutes, 90), 2) if minutes else None,
    }


def drills(site_id, period):
    """Drills held in the period, when the emergency feature is present."""
    fn = HOOKS["drills"]
    if fn is None:
        return {"available": False}
    held = fn(site_id, period.start, period.end)
    return {"available": True, "held": len(held), "items": held}


def _overlap(a0, a1, b0, b1):
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def devices(site_id, period, now):
    """Share of device time in working order: 1 - offline time / device time, from the desk's offline exceptions.

    Device time counts from each device's creation (or the period's start) to the period's end (or now); offline
    time runs from a device_offline exception's opening to its closing (or now), clipped to the same window.
    """
    end = min(period.end, now)
    rows = db.session.execute(db.select(Device.id, Device.created_at).where(Device.site_id == site_id)).all()
    exposure = {dev_id: (max(period.start, created), end) for dev_id, created in rows}
    total = sum(max(0.0, (b - a).total_seconds()) for a, b in exposure.values())
    outages = db.session.execute(
        db.select(DeskException.device_id, DeskException.created_at, DeskException.closed_at).where(
            DeskException.site_id == site_id,
            DeskException.kind == "device_offline",
            DeskException.created_at < end,
            (DeskException.closed_at.is_(None)) | (DeskException.closed_at > period.start),
        )
    ).all()
    down = sum(_overlap(opened, closed or now, *exposure[dev_id]) for dev_id, opened, closed in outages if dev_id in exposure)
    availability = None if total <= 0 else round(1 - down / total, 6)
    return {
        "devices": len(rows),
        "availability": availability,
        "offline_hours": round(down / 3600, 2),
        "target": DEVICE_TARGET,
        "met": None if availability is None else availability >= DEVICE_TARGET,
    }
