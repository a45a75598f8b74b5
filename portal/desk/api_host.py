"""The host's side of walk-ins and item movements: answer from the phone."""
from flask import jsonify

from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import ApiError
from portal.desk import queries, walkins
from portal.desk.models import ItemMovement, WalkIn
from portal.desk.serialize import item_json, walk_in_json
from portal.extensions import db
from portal.passes.queries import reachable_unit_ids


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
        walkins.approve_walk_in(w, api_user(), by="host")
    else:
        walkins.refuse_walk_in(w, api_user(), by="host")
    return jsonify(walk_in_json(w))


def _answer_item(item_id, approve):
    item = _own(ItemMovement, item_id)
    walkins.decide_item(item, api_user(), approve=approve)
    return jsonify(item_json(item))


@api_route("/approvals/walk-ins/<int:walk_in_id>/approve", methods=("POST",), summary="Approve a walk-in for my unit",
           tag="approvals")
@api_roles("resident")
def approve_walk_in(walk_in_id):
    """The host approves; a short single-entry pass is issued."""
    return _answer_walk_in(walk_in_id, True)


@api_route("/approvals/walk-ins/<int:walk_in_id>/refuse", methods=("POST",), summary="Refuse a walk-in for my unit",
           tag="approvals")
@api_roles("resident")
def refuse_walk_in(walk_in_id):
    """The host refuses; recorded as a denied walk-in."""
    return _answer_walk_in(walk_in_id, False)


@api_route("/approvals/items/<int:item_id>/approve", methods=("POST",), summary="Approve items in or out for my unit",
           tag="approvals")
@api_roles("resident")
def approve_item(item_id):
    """The host approves an item movement."""
    return _answer_item(item_id, True)


@api_route("/approvals/items/<int:item_id>/refuse", methods=("POST",), summary="Refuse items in or out for my unit",
           tag="approvals")
@api_roles("resident")
def refuse_item(item_id):
    """The host refuses an item movement."""
    return _answer_item(item_id, False)
