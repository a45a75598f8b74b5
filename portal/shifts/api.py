"""Shifts in the JSON API: a guard's post, and every handover searchable with what happened on its shift."""

from datetime import date

from flask import jsonify, request

from portal.accounts.models import STAFF_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import ValidationFailed
from portal.core.jsonbody import json_body
from portal.desk.access import desk_site, id_arg, site_object
from portal.desk.models import Shift
from portal.shifts import operations, queries
from portal.shifts.models import POST_KINDS
from portal.shifts.serialize import handover_json, post_json

TAG = "desk"
ERR = {"$ref": "#/components/responses/Error"}
POST = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {"type": "string", "enum": list(POST_KINDS)},
        "building_id": {"type": "integer", "description": "For kind building"},
        "gate_id": {"type": "integer", "description": "For kind gate"},
    },
}


def date_arg(name):
    """A local date from the query string, or None; a malformed one is a 400."""
    text = request.args.get(name)
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        value = None
    # Beyond these years a day's bounds overflow; no shift is that old or that far ahead.
    if value is None or not 2000 <= value.year <= 2100:
        raise ValidationFailed({name: ("invalid_date", "Give a date as YYYY-MM-DD.")})
    return value


@api_route(
    "/desk/shift/post",
    methods=("POST",),
    summary="Set my post on my running shift (gate, building or patrol)",
    tag=TAG,
    body=POST,
    responses={"200": {"description": "The post"}, "409": ERR},
)
@api_roles(*STAFF_ROLES)
def set_post():
    """Where I am, so the nearest guard is offered incidents and alarms first."""
    user = api_user()
    data = json_body()
    post = operations.set_post(user, desk_site(user), data.get("kind"), data.get("building_id"), data.get("gate_id"))
    return jsonify(post_json(post))


@api_route(
    "/desk/handovers",
    summary="Every handover, newest first; search by text, guard and dates",
    tag=TAG,
    params=[
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "In the notes or the guard's name"},
        {"name": "guard_id", "in": "query", "schema": {"type": "integer"}},
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    ],
)
@api_roles(*STAFF_ROLES)
def list_handovers():
    """Ended shifts with their notes."""
    site = desk_site(api_user())
    rows = queries.handovers(
        site,
        text=(request.args.get("q") or "").strip()[:100] or None,
        guard_id=id_arg("guard_id"),
        first=date_arg("from"),
        last=date_arg("to"),
        limit=request.args.get("limit", 50, type=int),
        offset=request.args.get("offset", 0, type=int),
    )
    return jsonify({"items": [handover_json(s) for s in rows]})


@api_route(
    "/desk/handovers/<int:shift_id>",
    summary="One shift's handover with its incidents, exceptions and alarms",
    tag=TAG,
    responses={"200": {"description": "The handover"}, "404": ERR},
)
@api_roles(*STAFF_ROLES)
def get_handover(shift_id):
    """What happened on the shift."""
    shift = site_object(Shift, shift_id, desk_site(api_user()))
    return jsonify(handover_json(shift, queries.shift_record(shift)))
