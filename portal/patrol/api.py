"""Patrol in the JSON API: managers define checkpoints and routes; guards walk rounds, sync scans, report hazards."""

from flask import jsonify, request

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import Refused, ValidationFailed
from portal.core.jsonbody import json_body
from portal.core.validators import report_window
from portal.desk.access import desk_site, site_object
from portal.feedback.photos import photo_response
from portal.patrol import checkpoints, operations, queries
from portal.patrol.forms import hazard_photo
from portal.patrol.models import Hazard, Round
from portal.patrol.models import Route as PatrolRoute

ERR = {"$ref": "#/components/responses/Error"}
NAME = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 80}}}
ROUTE = {
    "type": "object",
    "required": ["name", "stops"],
    "properties": {
        "name": {"type": "string", "maxLength": 80},
        "stops": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"checkpoint_id": {"type": "integer"}, "minutes": {"type": "integer", "minimum": 0}},
            },
            "description": "Checkpoints in walking order; minutes: expected after the previous one (or the start)",
        },
        "schedule": {
            "type": "object",
            "description": '{"times": ["08:00", "20:00"]} or {"every_hours": 2, "from": "00:00"} in the site\'s zone',
        },
        "grace_minutes": {"type": "integer", "default": 5},
    },
}
SCANS = {
    "type": "object",
    "required": ["scans"],
    "properties": {
        "scans": {
            "type": "array",
            "maxItems": operations.MAX_BATCH,
            "items": {
                "type": "object",
                "required": ["id", "scanned_at"],
                "properties": {
                    "id": {"type": "string", "description": "Made by the phone; a retried sync with the same id is applied once"},
                    "payload": {"type": "string", "description": "The sticker QR's text"},
                    "code": {"type": "string", "description": "Or the code printed under it"},
                    "scanned_at": {"type": "string", "format": "date-time", "description": "The phone's time of the scan"},
                },
            },
        }
    },
}


def _round(round_id):
    return site_object(Round, round_id, desk_site(api_user()))


def _own_round(round_id):
    rnd = _round(round_id)
    if rnd.guard_id != api_user().id:
        raise Refused("not_your_round", "Only the guard walking this round can do this.", kind="forbidden")
    return rnd


@api_route("/patrol/checkpoints", summary="The site's checkpoints (managers also get each sticker's text)", tag="patrol")
@api_roles(*STAFF_ROLES)
def list_checkpoints():
    """Checkpoints by name."""
    user = api_user()
    manager = user.role in MANAGER_ROLES
    items = [queries.checkpoint_json(c, with_code=manager) for c in queries.checkpoints(desk_site(user).id)]
    return jsonify({"items": items})


@api_route(
    "/patrol/checkpoints",
    methods=("POST",),
    summary="Add a checkpoint (managers)",
    tag="patrol",
    body=NAME,
    responses={"201": {"description": "Created, with the sticker's QR text and typed code"}},
)
@api_roles(*MANAGER_ROLES)
def add_checkpoint():
    """A new checkpoint of the manager's site."""
    user = api_user()
    cp = checkpoints.add_checkpoint(user, desk_site(user), json_body().get("name"))
    return jsonify(queries.checkpoint_json(cp, with_code=True)), 201


@api_route("/patrol/routes", summary="The site's routes with their stops and schedule", tag="patrol")
@api_roles(*STAFF_ROLES)
def list_routes():
    """Active routes by name."""
    return jsonify({"items": [queries.route_json(r) for r in queries.routes(desk_site(api_user()).id)]})


@api_route("/patrol/routes", methods=("POST",), summary="Add a route (managers)", tag="patrol", body=ROUTE)
@api_roles(*MANAGER_ROLES)
def add_route():
    """Checkpoints in order with expected minutes between, and when rounds are due."""
    user = api_user()
    data = json_body()
    route = checkpoints.add_route(
        user, desk_site(user), data.get("name"), data.get("stops"), data.get("schedule"), data.get("grace_minutes", 5)
    )
    return jsonify(queries.route_json(route)), 201


@api_route("/patrol/rounds", summary="The site's latest rounds", tag="patrol")
@api_roles(*STAFF_ROLES)
def list_rounds():
    """Newest first."""
    return jsonify({"items": [queries.round_json(r) for r in queries.rounds(desk_site(api_user()).id)]})


@api_route(
    "/patrol/rounds",
    methods=("POST",),
    summary="Start a round of a route (the scheduled one now due, or a new one)",
    tag="patrol",
    body={"type": "object", "required": ["route_id"], "properties": {"route_id": {"type": "integer"}}},
    responses={"201": {"description": "Started"}, "404": ERR},
)
@api_roles(*STAFF_ROLES)
def start_round():
    """The caller walks the round."""
    user = api_user()
    route_id = json_body().get("route_id")
    route = site_object(PatrolRoute, route_id, desk_site(user))
    return jsonify(queries.round_json(operations.start_round(user, route))), 201


@api_route("/patrol/rounds/<int:round_id>", summary="One round: plan, scans, what is missing", tag="patrol")
@api_roles(*STAFF_ROLES)
def get_round(round_id):
    """A round of the caller's site."""
    return jsonify(queries.round_json(_round(round_id)))


@api_route(
    "/patrol/rounds/<int:round_id>/scans",
    methods=("POST",),
    summary="Sync scans made on the phone (offline ones too), each applied once at its own time",
    tag="patrol",
    body=SCANS,
    responses={"200": {"description": "applied, duplicates and rejected client ids, and the round"}, "403": ERR, "404": ERR},
)
@api_roles(*STAFF_ROLES)
def sync_scans(round_id):
    """The guard walking the round sends what the phone queued."""
    rnd = _own_round(round_id)
    result = operations.record_scans(api_user(), rnd, json_body(256 * 1024).get("scans"))
    return jsonify(dict(result, round=queries.round_json(rnd)))


@api_route(
    "/patrol/rounds/<int:round_id>/finish",
    methods=("POST",),
    summary="End the round; missed or late checkpoints go to the desk",
    tag="patrol",
    body={"type": "object", "properties": {"finished_at": {"type": "string", "format": "date-time"}}},
)
@api_roles(*STAFF_ROLES)
def finish_round(round_id):
    """finished_at: the phone's time when the guard ended it offline."""
    rnd = _own_round(round_id)
    data = json_body() if request.get_data(cache=True) else {}
    return jsonify(queries.round_json(operations.finish_round(api_user(), rnd, data.get("finished_at"))))


@api_route(
    "/patrol/hazards",
    summary="Hazards found on patrol",
    tag="patrol",
    params=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "closed"]}}],
)
@api_roles(*STAFF_ROLES)
def list_hazards():
    """Newest first."""
    status = request.args.get("status")
    rows = queries.hazards(desk_site(api_user()).id, status if status in ("open", "closed") else None)
    return jsonify({"items": [queries.hazard_json(h) for h in rows]})


@api_route(
    "/patrol/hazards",
    methods=("POST",),
    summary="Report a hazard (JSON, or multipart with one file named photo); a retried id returns the first",
    tag="patrol",
    body={
        "type": "object",
        "required": ["id", "description"],
        "properties": {
            "id": {"type": "string", "description": "Made by the phone"},
            "description": {"type": "string", "maxLength": 2000},
            "round_id": {"type": "integer"},
            "checkpoint_id": {"type": "integer"},
            "found_at": {"type": "string", "format": "date-time"},
        },
    },
    responses={"201": {"description": "Created"}, "200": {"description": "Already reported"}, "413": ERR},
)
@api_roles(*STAFF_ROLES)
def add_hazard():
    """With a photo re-encoded without metadata (JPEG, PNG or WebP, 5 MB)."""
    user = api_user()
    site = desk_site(user)
    if request.mimetype == "multipart/form-data":
        data, photo = request.form.to_dict(), hazard_photo(request.files)
    else:
        data, photo = json_body(), None
    rnd = None
    raw_round = data.get("round_id")
    if raw_round not in (None, ""):
        if not str(raw_round).isdigit():
            raise ValidationFailed({"round_id": ("invalid", "Choose a round of this community.")})
        rnd = site_object(Round, int(raw_round), site)
    hz, created = operations.add_hazard(user, site, data, photo, rnd)
    return jsonify(queries.hazard_json(hz)), 201 if created else 200


@api_route(
    "/patrol/hazards/<int:hazard_id>/close",
    methods=("POST",),
    summary="Close a hazard with what was done",
    tag="patrol",
    body={"type": "object", "required": ["note"], "properties": {"note": {"type": "string", "maxLength": 2000}}},
)
@api_roles(*STAFF_ROLES)
def close_hazard(hazard_id):
    """Staff of the site close it."""
    user = api_user()
    hz = site_object(Hazard, hazard_id, desk_site(user))
    return jsonify(queries.hazard_json(operations.close_hazard(user, hz, json_body().get("note"))))


@api_route(
    "/patrol/hazards/<int:hazard_id>/photo",
    summary="A hazard's photo",
    tag="patrol",
    responses={"200": {"description": "The image"}, "404": ERR},
)
@api_roles(*STAFF_ROLES)
def hazard_photo_file(hazard_id):
    """The re-encoded photo, for the site's staff."""
    hz = site_object(Hazard, hazard_id, desk_site(api_user()))
    if hz.photo_type is None:
        raise Refused("not_found", "No such photo.", kind="not_found")
    return photo_response(_Photo(hz))


class _Photo:
    """The shape photo_response takes."""

    def __init__(self, hz):
        self.id, self.data, self.content_type = hz.id, hz.photo, hz.photo_type


@api_route(
    "/patrol/report",
    summary="Rounds on time, late and missed; checkpoints missed; hazards found and closed",
    tag="patrol",
    params=[
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    ],
)
@api_roles(*MANAGER_ROLES)
def patrol_report():
    """Default: the last 30 days."""
    start, end = report_window(request.args)
    return jsonify(queries.report(desk_site(api_user()).id, start, end))
