"""The security desk's JSON API: events, live stream, exceptions, shifts, remote open, devices, on site."""

from flask import Response, jsonify, request

from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.jsonbody import json_body
from portal.desk import operations, queries
from portal.desk.access import DESK_ROLES, desk_site, id_arg, site_object, time_arg
from portal.desk.export import on_site_csv
from portal.desk.models import DeskException
from portal.desk.serialize import exception_json
from portal.desk.stream import events_response, stream_response

TAG = "desk"
Q = lambda name, typ="string", desc="": {"name": name, "in": "query", "schema": {"type": typ}, "description": desc}  # noqa: E731
SITE = Q("site_id", "integer", "Global admins only: which community")
STR, INT = {"type": "string"}, {"type": "integer"}


@api_route(
    "/desk/events",
    summary="Access events of the site, newest first",
    tag=TAG,
    params=[
        Q("decision", desc="grant | deny"),
        Q("gate", "integer", "gate id"),
        Q("since", desc="ISO 8601 with offset"),
        Q("until", desc="ISO 8601 with offset"),
        Q("before_id", "integer"),
        Q("limit", "integer"),
        SITE,
    ],
)
@api_roles(*DESK_ROLES)
def desk_events():
    """Filtered events with masked personal data."""
    site = desk_site(api_user())
    return events_response(
        site,
        decision=request.args.get("decision"),
        gate_id=id_arg("gate"),
        since=time_arg("since"),
        until=time_arg("until"),
        before_id=id_arg("before_id"),
        limit=request.args.get("limit", 100, type=int),
    )


@api_route(
    "/desk/stream",
    summary="Live events (text/event-stream); honours Last-Event-ID",
    tag=TAG,
    params=[Q("decision"), Q("gate", "integer"), Q("last_id", "integer", "replay events after this id"), SITE],
    responses={
        "200": {
            "description": "Server-sent events; each `id:` is the access-event id. After a "
            "reconnect, events committed late under a lower id are sent too, so "
            "an event may arrive twice: de-duplicate by id.",
            "content": {"text/event-stream": {"schema": STR}},
        }
    },
)
@api_roles(*DESK_ROLES)
def desk_stream():
    """Server-sent events for the live board."""
    return stream_response(desk_site(api_user()).id)


@api_route(
    "/desk/exceptions", summary="Exceptions of the site", tag=TAG, params=[Q("status", desc="open | taken | closed"), SITE]
)
@api_roles(*DESK_ROLES)
def list_exceptions():
    """Open and past exceptions."""
    site = desk_site(api_user())
    return jsonify({"items": [exception_json(x) for x in queries.exceptions(site.id, request.args.get("status"))]})


@api_route("/desk/exceptions/<int:exc_id>/take", methods=("POST",), summary="Take an exception", tag=TAG)
@api_roles(*DESK_ROLES)
def take_exception(exc_id):
    """Mark an exception as being handled by the caller."""
    site = desk_site(api_user())
    x = operations.take_exception(site_object(DeskException, exc_id, site), api_user())
    return jsonify(exception_json(x))


@api_route(
    "/desk/exceptions/<int:exc_id>/close",
    methods=("POST",),
    summary="Close an exception with an outcome",
    tag=TAG,
    body={"type": "object", "required": ["outcome"], "properties": {"outcome": STR, "note": STR}},
)
@api_roles(*DESK_ROLES)
def close_exception(exc_id):
    """Close with an outcome."""
    site = desk_site(api_user())
    data = json_body()
    x = operations.close_exception(site_object(DeskException, exc_id, site), api_user(), data.get("outcome"), data.get("note"))
    return jsonify(exception_json(x))


@api_route(
    "/desk/keypads/<int:device_id>/clear",
    methods=("POST",),
    tag=TAG,
    summary="Let a keypad take codes again after a burst of wrong entries (audited)",
)
@api_roles(*DESK_ROLES)
def clear_keypad(device_id):
    """Forget a keypad's failed entries once a guard has looked."""
    from portal.devices.models import Device
    from portal.gate.throttle import clear_keypad

    device = site_object(Device, device_id, desk_site(api_user()))
    clear_keypad(device, api_user())
    return jsonify({"ok": True, "device_id": device.id})


@api_route("/desk/shift", summary="My running shift and the last handover", tag=TAG)
@api_roles(*DESK_ROLES)
def get_shift():
    """The current shift and what the previous one handed over."""
    site = desk_site(api_user())
    shift = operations.current_shift(api_user(), site.id)
    last = queries.last_handover(site.id)
    return jsonify(
        {
            "shift": {"id": shift.id, "started_at": shift.started_at.isoformat()} if shift else None,
            "handover": {
                "id": last.id,
                "guard": last.guard.display_name,
                "ended_at": last.ended_at.isoformat(),
                "notes": last.notes,
                "open_exception_ids": last.open_exception_ids,
            }
            if last
            else None,
            "open_exceptions": [exception_json(x) for x in queries.exceptions(site.id, "open")],
        }
    )


@api_route("/desk/shift/start", methods=("POST",), summary="Start my shift", tag=TAG)
@api_roles(*DESK_ROLES)
def start_shift():
    """Start (or continue) a shift."""
    shift = operations.start_shift(api_user(), desk_site(api_user()).id)
    return jsonify({"id": shift.id, "started_at": shift.started_at.isoformat()})


@api_route(
    "/desk/shift/end",
    methods=("POST",),
    summary="End my shift with handover notes",
    tag=TAG,
    body={"type": "object", "properties": {"notes": STR}},
)
@api_roles(*DESK_ROLES)
def end_shift():
    """End the shift; open exceptions pass to the next one."""
    shift = operations.end_shift(api_user(), desk_site(api_user()).id, json_body().get("notes"))
    return jsonify({"id": shift.id, "ended_at": shift.ended_at.isoformat(), "open_exception_ids": shift.open_exception_ids})


@api_route(
    "/desk/remote-open",
    methods=("POST",),
    tag=TAG,
    summary="Open a door, gate or barrier, or call a lift, through the bridge (reason required; never a pass)",
    body={
        "type": "object",
        "required": ["device_id"],
        "properties": {
            "device_id": INT,
            "reason": STR,
            "door": INT,
            "gate_id": INT,
            "kind": {"type": "string", "enum": ["open", "call_lift"]},
            "emergency": {"type": "string", "enum": ["ambulance", "fire", "police"]},
        },
    },
    responses={"202": {"description": "Queued for the bridge"}},
)
@api_roles(*DESK_ROLES)
def remote_open():
    """Queue a device command and record the remote open."""
    from portal.devices.models import Device
    from portal.sites.models import Gate

    site = desk_site(api_user())
    data = json_body()
    device = site_object(Device, data.get("device_id"), site)
    gate = site_object(Gate, data["gate_id"], site) if data.get("gate_id") is not None else None
    cmd, ev = operations.remote_open(
        api_user(),
        device,
        data.get("reason"),
        door=data.get("door"),
        gate=gate,
        emergency=data.get("emergency"),
        kind=data.get("kind", "open"),
    )
    return jsonify({"command_id": cmd.id, "status": cmd.status, "event_id": ev.id}), 202


@api_route("/desk/devices", summary="Devices a guard may open remotely, with their status", tag=TAG, params=[SITE])
@api_roles(*DESK_ROLES)
def desk_devices():
    """Devices of the site (the same list as the remote-open page)."""
    rows = queries.devices(desk_site(api_user()).id)
    return jsonify(
        {
            "items": [
                {"id": d.id, "name": d.name, "kind": d.kind, "status": d.status, "gate_ids": d.gate_ids, "doors": d.doors}
                for d in rows
            ]
        }
    )


@api_route("/desk/on-site", summary="Visitors and contractors on site now, by building (roll call)", tag=TAG, params=[SITE])
@api_roles(*DESK_ROLES)
def on_site():
    """Who entered and has not left."""
    site = desk_site(api_user())
    rows = queries.on_site_shown(site)
    groups = [{"building": b, "people": people} for b, people in queries.by_building(rows)]
    return jsonify({"total": len(rows), "buildings": groups})


@api_route(
    "/desk/on-site.csv",
    summary="The roll call as CSV (cells safe from formula injection)",
    tag=TAG,
    params=[SITE],
    responses={"200": {"description": "CSV", "content": {"text/csv": {"schema": STR}}}},
)
@api_roles(*DESK_ROLES)
def on_site_export():
    """CSV export of who is on site."""
    site = desk_site(api_user())
    rows = queries.on_site_exported(site)
    return Response(
        on_site_csv(rows), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="on-site-{site.slug}.csv"'}
    )


@api_route("/desk/vehicles", summary="Visitor vehicles inside, with the parking limit and overstays", tag=TAG, params=[SITE])
@api_roles(*DESK_ROLES)
def vehicles():
    """Vehicles on site."""
    return jsonify({"items": queries.vehicles_on_site(desk_site(api_user()))})


@api_route("/desk/contractors", summary="Contractor and delivery passes live now, and who is inside", tag=TAG, params=[SITE])
@api_roles(*DESK_ROLES)
def contractors():
    """Contractors (company, work area, hours) and couriers with recurring passes."""
    site = desk_site(api_user())
    return jsonify(
        {"contractors": queries.passes_of_kind(site, "contractor"), "deliveries": queries.passes_of_kind(site, "delivery")}
    )
