"""Walk-ins and item movements in the JSON API: the desk registers and follows them, the host answers from the phone."""

from flask import jsonify, request

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import ApiError, Refused
from portal.core.jsonbody import json_body
from portal.desk import queries as desk_queries
from portal.desk.access import DESK_ROLES, desk_site, site_object
from portal.desk.api import INT, SITE, STR, TAG, Q
from portal.extensions import db
from portal.passes.queries import reachable_unit_ids
from portal.walkins import operations, queries
from portal.walkins.models import ItemMovement, WalkIn
from portal.walkins.queries import residents_of
from portal.walkins.serialize import item_json, walk_in_json

WALK_IN_BODY = {
    "type": "object",
    "required": ["name", "unit_id"],
    "properties": {
        "name": STR,
        "phone": STR,
        "id_number": {"type": "string", "description": "GB 11643, checked"},
        "plate": STR,
        "unit_id": INT,
        "gate_id": INT,
        "purpose": STR,
    },
}


@api_route(
    "/desk/walk-ins",
    methods=("POST",),
    summary="Register a walk-in; the host is asked by SMS and in the portal",
    tag=TAG,
    body=WALK_IN_BODY,
    responses={"201": {"description": "Created (pending, or refused on a watchlist match)"}},
)
@api_roles(*DESK_ROLES)
def create_walk_in():
    """Register a visitor with no pass."""
    w, _ = operations.register_walk_in(api_user(), desk_site(api_user()), json_body())
    return jsonify(walk_in_json(w)), 201


@api_route("/desk/walk-ins", summary="Walk-ins of the site", tag=TAG, params=[Q("status"), SITE])
@api_roles(*DESK_ROLES)
def list_walk_ins():
    """Walk-ins, newest first."""
    site = desk_site(api_user())
    return jsonify({"items": [walk_in_json(w) for w in queries.walk_ins(site.id, request.args.get("status"))]})


@api_route(
    "/desk/walk-ins/stats",
    summary="Share of walk-ins approved by guards (alert above 10%)",
    tag=TAG,
    params=[Q("days", "integer"), SITE],
)
@api_roles(*DESK_ROLES)
def walk_in_stats():
    """Guard-approved share."""
    days = min(max(request.args.get("days", 30, type=int), 1), 366)
    return jsonify(desk_queries.walk_in_stats(desk_site(api_user()).id, days=days))


@api_route(
    "/desk/walk-ins/<int:walk_in_id>/approve",
    methods=("POST",),
    tag=TAG,
    summary="Approve without the host; needs a written reason (audited)",
    body={"type": "object", "required": ["reason"], "properties": {"reason": STR}},
)
@api_roles(*DESK_ROLES)
def guard_approve_walk_in(walk_in_id):
    """Guard approval with a reason."""
    w = site_object(WalkIn, walk_in_id, desk_site(api_user()))
    operations.approve_walk_in(w, api_user(), by="guard", reason=json_body().get("reason"))
    return jsonify(walk_in_json(w))


@api_route("/desk/walk-ins/<int:walk_in_id>/refuse", methods=("POST",), summary="Refuse a walk-in at the desk", tag=TAG)
@api_roles(*DESK_ROLES)
def guard_refuse_walk_in(walk_in_id):
    """The visitor left or the desk refuses."""
    site = desk_site(api_user())
    return jsonify(walk_in_json(operations.refuse_walk_in(site_object(WalkIn, walk_in_id, site), api_user(), by="guard")))


ITEM_BODY = {
    "type": "object",
    "required": ["unit_id", "direction", "description"],
    "properties": {
        "unit_id": INT,
        "direction": {"type": "string", "enum": ["in", "out"]},
        "description": STR,
        "quantity": INT,
        "carrier_name": STR,
        "plate": STR,
        "gate_id": INT,
    },
}


@api_route(
    "/desk/items",
    methods=("POST",),
    summary="Log items going in or out (物品出入登记); the host approves",
    tag=TAG,
    body=ITEM_BODY,
    responses={"201": {"description": "Created, pending the host"}},
)
@api_roles(*DESK_ROLES)
def create_item():
    """Register an item movement."""
    item, _ = operations.register_item(api_user(), desk_site(api_user()), json_body())
    return jsonify(item_json(item)), 201


@api_route("/desk/items", summary="Item movements of the site", tag=TAG, params=[SITE])
@api_roles(*DESK_ROLES)
def list_items():
    """Item movements, newest first."""
    return jsonify({"items": [item_json(i) for i in queries.items(desk_site(api_user()).id)]})


@api_route("/desk/items/<int:item_id>", summary="One item movement", tag=TAG)
@api_roles(*DESK_ROLES)
def get_item(item_id):
    """An item movement of the site."""
    return jsonify(item_json(site_object(ItemMovement, item_id, desk_site(api_user()))))


def _manager_decides(item_id, approve):
    item = site_object(ItemMovement, item_id, desk_site(api_user()))
    if residents_of(item.unit):
        raise Refused("has_host", "Residents live in this unit: they answer for its items.", kind="conflict")
    operations.decide_item(item, api_user(), approve=approve, by="manager")
    return jsonify(item_json(item))


@api_route(
    "/desk/items/<int:item_id>/approve",
    methods=("POST",),
    summary="A manager approves items for a unit nobody lives in",
    tag=TAG,
)
@api_roles(*MANAGER_ROLES)
def manager_approve_item(item_id):
    """Goods for a vacant unit with no permit covering them."""
    return _manager_decides(item_id, True)


@api_route(
    "/desk/items/<int:item_id>/refuse",
    methods=("POST",),
    summary="A manager refuses items for a unit nobody lives in",
    tag=TAG,
)
@api_roles(*MANAGER_ROLES)
def manager_refuse_item(item_id):
    """Refuse goods for a vacant unit."""
    return _manager_decides(item_id, False)


def _own(model, obj_id):
    obj = db.session.get(model, obj_id)
    if obj is None or obj.unit_id not in reachable_unit_ids(api_user()):
        raise ApiError(404, "not_found", "Not found.")
    return obj


@api_route("/approvals", summary="Walk-ins and item movements waiting for my answer", tag="approvals")
@api_roles("resident")
def my_approvals():
    """Pending requests for my units."""
    w, i = queries.pending_for_units(reachable_unit_ids(api_user()))
    return jsonify({"walk_ins": [walk_in_json(x) for x in w], "items": [item_json(x) for x in i]})


def _answer_walk_in(walk_in_id, approve):
    w = _own(WalkIn, walk_in_id)
    if approve:
        operations.approve_walk_in(w, api_user(), by="host")
    else:
        operations.refuse_walk_in(w, api_user(), by="host")
    return jsonify(walk_in_json(w))


def _answer_item(item_id, approve):
    item = _own(ItemMovement, item_id)
    operations.decide_item(item, api_user(), approve=approve)
    return jsonify(item_json(item))


@api_route(
    "/approvals/walk-ins/<int:walk_in_id>/approve", methods=("POST",), summary="Approve a walk-in for my unit", tag="approvals"
)
@api_roles("resident")
def approve_walk_in(walk_in_id):
    """The host approves; a short single-entry pass is issued."""
    return _answer_walk_in(walk_in_id, True)


@api_route(
    "/approvals/walk-ins/<int:walk_in_id>/refuse", methods=("POST",), summary="Refuse a walk-in for my unit", tag="approvals"
)
@api_roles("resident")
def refuse_walk_in(walk_in_id):
    """The host refuses; recorded as a denied walk-in."""
    return _answer_walk_in(walk_in_id, False)


@api_route(
    "/approvals/items/<int:item_id>/approve", methods=("POST",), summary="Approve items in or out for my unit", tag="approvals"
)
@api_roles("resident")
def approve_item(item_id):
    """The host approves an item movement."""
    return _answer_item(item_id, True)


@api_route(
    "/approvals/items/<int:item_id>/refuse", methods=("POST",), summary="Refuse items in or out for my unit", tag="approvals"
)
@api_roles("resident")
def refuse_item(item_id):
    """The host refuses an item movement."""
    return _answer_item(item_id, False)
