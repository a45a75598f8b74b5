"""Emergency mode: start, state per device, roll call, end; the site's assembly point."""

from flask import jsonify

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import Refused
from portal.core.jsonbody import json_body
from portal.emergency import operations, queries
from portal.emergency.models import KINDS, RollCallEntry
from portal.emergency.serialize import emergency_json, roll_json
from portal.extensions import db
from portal.sites.api import import_site as staff_site

TAG = "emergency"
STR = {"type": "string"}


@api_route(
    "/sites/<slug>/emergency",
    methods=("POST",),
    summary="Start an emergency (fire, evacuation: doors released) or a drill (roll call only); audited",
    tag=TAG,
    body={
        "type": "object",
        "required": ["kind", "reason"],
        "properties": {"kind": {"type": "string", "enum": list(KINDS)}, "reason": STR},
    },
    responses={"201": {"description": "Started"}, "409": {"description": "One is already running"}},
)
@api_roles(*STAFF_ROLES)
def start_emergency(slug):
    """Guards and managers of the community start it."""
    site = staff_site(slug, api_user())
    data = json_body()
    emergency = operations.start(site, api_user(), data.get("kind"), data.get("reason"))
    return jsonify(emergency_json(emergency)), 201


@api_route("/sites/<slug>/emergency", summary="The running emergency (or the last one) with each device's state", tag=TAG)
@api_roles(*STAFF_ROLES)
def get_emergency(slug):
    """active, kind, devices [{id, state: released | pending | failed}], roll call counts, timings."""
    site = staff_site(slug, api_user())
    running = queries.running(site.id)
    if running is not None:
        return jsonify(emergency_json(running))
    last = queries.latest(site.id)
    return jsonify({"active": False, "kind": None, "devices": [], "last": emergency_json(last) if last else None})


@api_route("/sites/<slug>/emergency/end", methods=("POST",), summary="End it: devices restored, pushes resume", tag=TAG)
@api_roles(*STAFF_ROLES)
def end_emergency(slug):
    """Restore every released device through the bridge."""
    site = staff_site(slug, api_user())
    return jsonify(emergency_json(operations.end(site, api_user())))


@api_route("/sites/<slug>/emergency/roll-call", summary="Who was on site and who has been accounted for", tag=TAG)
@api_roles(*STAFF_ROLES)
def roll_call(slug):
    """The running (or last) emergency's roll call with names."""
    site = staff_site(slug, api_user())
    emergency = queries.latest(site.id)
    if emergency is None:
        raise Refused("no_emergency", "No emergency is running at this community.", kind="not_found")
    return jsonify({"emergency_id": emergency.id, "people": [roll_json(p) for p in queries.roll_call_shown(emergency)]})


@api_route(
    "/sites/<slug>/emergency/roll-call/<int:person_id>/account",
    methods=("POST",),
    summary="Mark a person accounted for (audited)",
    tag=TAG,
)
@api_roles(*STAFF_ROLES)
def account_person(slug, person_id):
    """A guard saw them at the assembly point."""
    site = staff_site(slug, api_user())
    emergency = queries.running(site.id)
    entry = db.session.get(RollCallEntry, person_id)
    if emergency is None or entry is None or entry.emergency_id != emergency.id:
        raise Refused("not_found", "Not found.", kind="not_found")
    operations.account(entry, emergency, api_user())
    return jsonify(roll_json(entry))


@api_route(
    "/sites/<slug>/assembly-point",
    methods=("PUT",),
    summary="Where visitors are sent in an emergency (managers)",
    tag=TAG,
    body={"type": "object", "required": ["assembly_point"], "properties": {"assembly_point": STR, "assembly_point_en": STR}},
)
@api_roles(*MANAGER_ROLES)
def put_assembly_point(slug):
    """Set the site's assembly point in Chinese and English."""
    site = staff_site(slug, api_user())
    data = json_body()
    operations.set_assembly_point(site, api_user(), data.get("assembly_point"), data.get("assembly_point_en"))
    return jsonify(
        {"assembly_point": site.settings.get("assembly_point"), "assembly_point_en": site.settings.get("assembly_point_en")}
    )
