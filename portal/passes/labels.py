"""Words for what a pass holds: state and kind labels, recurring days and hours, in the page's language."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

STATE_LABELS = {
    "active": _l("Valid now"),
    "pending": _l("Not started yet"),
    "used_up": _l("All entries used"),
    "expired": _l("Ended"),
    "revoked": _l("Cancelled"),
    "awaiting_approval": _l("Waiting for the management's approval"),
}
KIND_LABELS = {"guest": _l("Guest"), "delivery": _l("Delivery"), "contractor": _l("Contractor"), "service": _l("Service")}
SMS_LABELS = {
    "queued": _l("Waiting to be sent"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "delivered": _l("Delivered"),
    "failed": _l("Not delivered"),
    "undelivered": _l("Not delivered"),
}
DAY_NAMES = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))
ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]


def state_label(state):
    """The word people read for a pass state (the code itself is for the API and the desk)."""
    return str(STATE_LABELS.get(state, state))


def kind_label(kind):
    """Guest, Delivery, ... in the page's language."""
    return str(KIND_LABELS.get(kind, kind))


def sms_label(status):
    """Where the pass SMS is, in words."""
    return str(SMS_LABELS.get(status, status))


def _runs(days):
    """[1,2,3,5] -> [(1, 3), (5, 5)]."""
    runs = []
    for d in sorted(set(days)):
        if runs and d == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


def days_text(days):
    """Mon, Wed, Fri / Mon–Fri / every day; three or more days in a row read as a range."""
    days = sorted(set(days or ALL_DAYS))
    if days == ALL_DAYS:
        return _("Every day")
    parts = []
    for first, last in _runs(days):
        if last - first >= 2:
            parts.append(_("%(first)s–%(last)s", first=DAY_NAMES[first - 1], last=DAY_NAMES[last - 1]))
        else:
            parts.extend(str(DAY_NAMES[d - 1]) for d in range(first, last + 1))
    return _(", ").join(parts)


def hours_text(schedule):
    """08:00–18:00, or 22:00–06:00 (next day) for a window that crosses midnight."""
    start, end = schedule["start"], schedule["end"]
    if end < start:
        return _("%(start)s–%(end)s (next day)", start=start, end=end)
    return f"{start}–{end}"


def schedule_text(schedule):
    """Mon, Wed, Fri 08:00–12:00; empty when the pass has no recurring window."""
    if not schedule:
        return ""
    return _("%(days)s, %(hours)s", days=days_text(schedule.get("days")), hours=hours_text(schedule))
