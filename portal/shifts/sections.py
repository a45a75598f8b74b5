"""What other features add to a shift's handover record: the door alarms of the shift, when portal.alarms is installed."""

from importlib.util import find_spec

from portal.core.i18n import N_
from portal.extensions import db
from portal.incidents.labels import STATUS_LABELS

HAS_ALARMS = find_spec("portal.alarms") is not None
CLEARED = N_("Cleared by the device")


def alarm_section(site_id, start, end):
    """(title msgid, the alarms raised during the shift with their state in the page's language)."""
    from flask_babel import gettext

    from portal.alarms.models import Alarm
    from portal.alarms.serialize import ALARM_LABELS

    rows = db.session.scalars(
        db.select(Alarm)
        .where(Alarm.site_id == site_id, Alarm.raised_at >= start, Alarm.raised_at <= end)
        .order_by(Alarm.raised_at)
        .limit(500)
    ).all()
    states = {"open": STATUS_LABELS["open"], "acknowledged": STATUS_LABELS["acknowledged"]}
    items = [
        {
            "id": a.id,
            "what": str(ALARM_LABELS.get(a.kind, a.kind)),
            "at": a.raised_at,
            "status": str(states[a.state]) if a.state in states else gettext(CLEARED),
        }
        for a in rows
    ]
    return N_("Door alarms"), items


def default_sections():
    """The sections a handover shows besides incidents and exceptions."""
    return [alarm_section] if HAS_ALARMS else []
