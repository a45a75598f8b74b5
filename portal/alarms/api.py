"""The desk's alarms: list and acknowledge."""

from flask import jsonify, request

from portal.accounts.sessions import api_roles, api_user
from portal.alarms import operations, queries
from portal.alarms.models import Alarm
from portal.alarms.serialize import alarm_json
from portal.api.blueprint import api_route
from portal.core.errors import ValidationFailed
from portal.core.jsonbody import json_body
from portal.desk.access import DESK_ROLES, desk_site, site_object

TAG = "desk"
STATES = ("open", "acknowledged", "cleared")


@api_route(
    "/desk/alarms",
    summary="Door alarms of the site, newest first (kind, device_id, raised_at, acknowledged_at)",
    tag=TAG,
    params=[
        {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(STATES)}},
        {"name": "site_id", "in": "query", "schema": {"type": "integer"}, "description": "Global admins only"},
    ],
)
@api_roles(*DESK_ROLES)
def list_alarms():
    """Alarms of the caller's community."""
    site = desk_site(api_user())
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise ValidationFailed({"state": ("invalid_choice", "Choose one of the listed values.")})
    return jsonify({"items": [alarm_json(a, site.timezone) for a in queries.alarms(site.id, state)]})


@api_route("/desk/alarms/<int:alarm_id>/acknowledge", methods=("POST",), summary="Acknowledge an alarm (audited)", tag=TAG)
@api_roles(*DESK_ROLES)
def acknowledge_alarm(alarm_id):
    """A guard has seen the alarm; it leaves the board's standing list."""
    site = desk_site(api_user())
    alarm = operations.acknowledge(site_object(Alarm, alarm_id, site), api_user())
    return jsonify(alarm_json(alarm, site.timezone))


@api_route(
    "/desk/alarms/<int:alarm_id>/incident",
    methods=("POST",),
    summary="Turn an alarm into an incident in one action (acknowledges it; audited)",
    tag=TAG,
    body={"type": "object", "properties": {"severity": {"type": "string", "enum": ["low", "normal", "high", "critical"]}}},
    responses={"201": {"description": "The incident"}, "409": {"description": "Already an incident"}},
)
@api_roles(*DESK_ROLES)
def alarm_to_incident(alarm_id):
    """The incident takes the device, its building and the alarm's id; the nearest guards are offered it."""
    site = desk_site(api_user())
    alarm = site_object(Alarm, alarm_id, site)
    severity = (json_body() if request.get_data(cache=True) else {}).get("severity", "high")
    incident = operations.to_incident(alarm, api_user(), severity)
    return jsonify(
        {
            "incident": {"id": incident.id, "status": incident.status, "kind": incident.kind},
            "alarm": alarm_json(alarm, site.timezone),
        }
    ), 201
