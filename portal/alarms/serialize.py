"""The alarm's JSON shape, the same for the API, the stream and the board."""

from flask_babel import lazy_gettext as _l

from portal.core.timeutil import local_text
from portal.desk.labels import both

ALARM_LABELS = {
    "door_forced": _l("Door forced"),
    "door_held": _l("Door held open"),
    "tamper": _l("Tamper"),
    "duress": _l("Duress code"),
    "fire_input": _l("Fire alarm input"),
    "power_loss": _l("Power lost"),
    "link_loss": _l("Link lost"),
}


STATE_LABELS = {"open": _l("Open"), "acknowledged": _l("Acknowledged"), "cleared": _l("Resolved by itself")}


def _iso(value):
    return value.isoformat() if value is not None else None


def alarm_json(alarm, tz_name="Asia/Shanghai"):
    """One alarm, with its device's names and bilingual kind label."""
    device = alarm.device
    return {
        "id": alarm.id,
        "site_id": alarm.site_id,
        "kind": alarm.kind,
        "kind_label": both(ALARM_LABELS, alarm.kind),
        "device_id": alarm.device_id,
        "device": device.name if device is not None else None,
        "device_en": device.name_en if device is not None else None,
        "door": alarm.door,
        "state": alarm.state,
        "repeats": alarm.repeats,
        "raised_at": _iso(alarm.raised_at),
        "local_time": local_text(alarm.raised_at, tz_name, "%H:%M:%S"),
        "cleared_at": _iso(alarm.cleared_at),
        "acknowledged_at": _iso(alarm.acknowledged_at),
        "acknowledged_by": alarm.acknowledged_by.display_name if alarm.acknowledged_by is not None else None,
    }
