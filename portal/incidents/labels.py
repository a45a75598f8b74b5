"""Words shown for stored incident codes, translated when shown."""

from flask_babel import lazy_gettext as _l

KIND_LABELS = {
    "lift_entrapment": _l("Lift entrapment"),
    "suspicious_person": _l("Suspicious person"),
    "dispute": _l("Dispute"),
    "fire_smoke": _l("Fire or smoke"),
    "water_leak": _l("Water leak"),
    "injury": _l("Injury"),
    "theft": _l("Theft"),
    "damage": _l("Damage"),
    "other": _l("Other"),
}
SEVERITY_LABELS = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "critical": _l("Critical")}
STATUS_LABELS = {
    "open": _l("Not acknowledged"),
    "acknowledged": _l("Acknowledged"),
    "on_scene": _l("On scene"),
    "resolved": _l("Resolved"),
}
ACTION_LABELS = {
    "reported": _l("Reported"),
    "acknowledged": _l("Acknowledged"),
    "on_scene": _l("On scene"),
    "resolved": _l("Resolved"),
    "assigned": _l("Assigned"),
    "photo": _l("Photo added"),
    "escalated": _l("Escalated"),
    "offered": _l("Offered to the nearest guards"),
    "widened": _l("Offered to everyone on shift"),
}
SOURCE_LABELS = {"desk": _l("Desk"), "phone": _l("Mobile phone"), "api": _l("API"), "alarm": _l("Door alarm")}


def labels():
    """Every label table, for templates."""
    return {
        "kind": KIND_LABELS,
        "severity": SEVERITY_LABELS,
        "status": STATUS_LABELS,
        "action": ACTION_LABELS,
        "source": SOURCE_LABELS,
    }
