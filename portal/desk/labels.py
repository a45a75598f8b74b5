"""Bilingual words the desk shows for reasons, methods and exception kinds."""

from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l

REASON_LABELS = {
    "ok": _l("Allowed"),
    "expired": _l("Pass expired"),
    "not_yet_valid": _l("Pass not yet valid"),
    "revoked": _l("Pass revoked"),
    "used_up": _l("Pass used up"),
    "outside_schedule": _l("Outside the pass's hours"),
    "wrong_site": _l("Pass for another community"),
    "wrong_gate": _l("Not allowed at this gate"),
    "bad_signature": _l("Forged or damaged code"),
    "unknown": _l("Unknown code"),
    "replayed": _l("Code already used"),
    "throttled": _l("Too many attempts"),
    "watchlisted": _l("On the watchlist"),
    "anti_passback": _l("Anti-passback"),
    "not_approved": _l("Waiting for approval"),
    "stale": _l("Stale credential"),
    "error": _l("System error"),
    "keypad_off": _l("Keypad codes turned off"),
    "remote_open": _l("Opened remotely"),
    "walk_in": _l("Walk-in"),
}
METHOD_LABELS = {
    "qr": _l("QR code"),
    "code": _l("Keypad code"),
    "plate": _l("Plate"),
    "face": _l("Face"),
    "card": _l("Card"),
    "pin": _l("PIN"),
    "remote": _l("Remote open"),
    "walk_in": _l("Walk-in"),
}
DECISION_LABELS = {"grant": _l("Granted"), "deny": _l("Denied")}
KIND_LABELS = {
    "denied": _l("Denied scans"),
    "watchlist": _l("Watchlist hit"),
    "name_match": _l("Possible watchlist name"),
    "anti_passback": _l("Anti-passback"),
    "keypad_burst": _l("Burst of failed codes"),
    "device_offline": _l("Device offline"),
    "push_failed": _l("Credential push failed"),
    "offline_double_use": _l("Offline double use"),
    "lost_events": _l("Device events lost"),
    "overstay": _l("Vehicle overstay"),
    "patrol_missed": _l("Patrol checkpoint missed"),
    "patrol_late": _l("Patrol checkpoint late"),
}
OUTCOME_LABELS = {
    "resolved": _l("Resolved"),
    "visitor_let_in": _l("Visitor let in"),
    "visitor_turned_away": _l("Visitor turned away"),
    "police_called": _l("Police called"),
    "false_alarm": _l("False alarm"),
    "device_fixed": _l("Device fixed"),
    "escalated": _l("Escalated"),
    "auto_resolved": _l("Resolved by itself"),
}
# Walk-ins and item movements waiting on a host ("pending" alone would read as a pass's 未生效).
REQUEST_STATUS_LABELS = {
    "pending": _l("Waiting for the host"),
    "deciding": _l("Waiting for the host"),
    "approved": _l("Approved"),
    "refused": _l("Refused"),
    "expired": _l("Timed out"),
}
EMERGENCY_LABELS = {"ambulance": _l("Ambulance"), "fire": _l("Fire engine"), "police": _l("Police")}
EXCEPTION_STATUS_LABELS = {"open": _l("Open"), "taken": _l("Being handled"), "closed": _l("Closed")}
PASS_KIND_LABELS = {"guest": _l("Guest"), "delivery": _l("Delivery"), "contractor": _l("Contractor"), "service": _l("Service")}
DIRECTION_LABELS = {"in": _l("In"), "out": _l("Out")}
DRIVER_LABELS = {
    "simulator": _l("Simulator"),
    "isapi": _l("Hikvision ISAPI"),
    "osdp": _l("OSDP reader"),
    "mqtt": _l("MQTT controller"),
}
_cache = {}


def label(table, key):
    """The label of a stored code in the page's language; the code itself only when no label exists."""
    value = table.get(key)
    return str(value) if value is not None else (key or "")


def both(table, key):
    """{"en": …, "zh": …} for a key of a label table (cached: translations do not change at run time)."""
    cache_key = (id(table), key)
    if cache_key not in _cache:
        label = table.get(key)
        if label is None:
            _cache[cache_key] = {"en": key or "", "zh": key or ""}
        else:
            out = {}
            for lang in ("en", "zh"):
                with force_locale(lang):
                    out[lang] = str(label)
            _cache[cache_key] = out
    return _cache[cache_key]


def colon():
    """ "：" on Chinese pages, ": " on English ones."""
    return "：" if get_locale().language == "zh" else ": "


def lp():
    """An opening parenthesis: full-width on Chinese pages."""
    return "（" if get_locale().language == "zh" else " ("


def rp():
    """The closing one."""
    return "）" if get_locale().language == "zh" else ")"


def mask_name(name):
    """王小明 -> 王*明, Li -> L*: enough for a guard to recognise, not to identify."""
    if not name:
        return ""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * min(len(name) - 2, 3) + name[-1]
