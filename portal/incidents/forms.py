"""Reading an incident report from a JSON body or the desk's form into create_incident's arguments."""

from portal.core.converters import is_id
from portal.core.errors import ValidationFailed
from portal.extensions import db
from portal.sites.models import Building


def _building(raw, site):
    if raw in (None, ""):
        return None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10:
        raw = int(raw)
    building = db.session.get(Building, raw) if isinstance(raw, int) and not isinstance(raw, bool) and is_id(raw) else None
    if building is None or building.site_id != site.id:
        raise ValidationFailed({"building_id": ("invalid_building", "Choose a building of this community.")})
    return building


def report_from(data, site, default_source="desk"):
    """kind, location, description, severity, source and building from submitted values (checked by the operation)."""
    source = data.get("source") or default_source
    return {
        "kind": data.get("kind"),
        "location": data.get("location"),
        "description": data.get("description"),
        "severity": data.get("severity") or "normal",
        "source": source if source != "alarm" else "invalid",  # alarms come through the alarms desk, not a form
        "building": _building(data.get("building_id"), site),
    }
