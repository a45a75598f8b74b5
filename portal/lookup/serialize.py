"""JSON shapes of the look-up: passes masked as the desk sees them, with their host's name and masked phone."""

from portal.core.timeutil import local
from portal.desk.serialize import event_payload
from portal.lookup.queries import host_of
from portal.passes.serialize import pass_json
from portal.permits.serialize import freight_json
from portal.vehicles.operations import vehicle_json


def desk_pass(p, viewer):
    """A pass for the desk (phone and ID masked) with its host."""
    out = pass_json(p, viewer)
    out["host"] = host_of(p)
    return out


def search_json(found, viewer, tz_name):
    """The search's answer."""
    return {
        "matched": found["matched"],
        "passes": [desk_pass(p, viewer) for p in found["passes"]],
        "units": [{"id": u.id, "label": u.label} for u in found["units"]],
        "vehicles": [vehicle_json(c) for c in found["vehicles"]],
        "freight": [freight_json(f) for f in found["freight"]],
        "events": [event_payload(e, tz_name) for e in found["events"]],
    }


def expected_json(hours, viewer, tz_name):
    """Expected visitors grouped by local hour."""
    return [
        {
            "hour": hour,
            "visitors": [{**desk_pass(p, viewer), "expected_from": local(p.valid_from, tz_name).isoformat()} for p in passes],
        }
        for hour, passes in hours.items()
    ]
