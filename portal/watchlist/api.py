"""Watchlist API: guards read it, managers maintain it."""

from flask import jsonify, request

from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.jsonbody import json_body
from portal.desk.access import DESK_ROLES, MANAGE_ROLES, desk_site, site_object
from portal.extensions import db
from portal.watchlist import operations
from portal.watchlist.models import WatchlistEntry

BODY = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {"type": "string", "enum": ["person", "plate"]},
        "name": {"type": "string"},
        "id_number": {"type": "string"},
        "phone": {"type": "string"},
        "plate": {"type": "string"},
        "reason": {"type": "string"},
    },
}


@api_route(
    "/watchlist",
    summary="The site's watchlist (masked)",
    tag="watchlist",
    params=[{"name": "active", "in": "query", "schema": {"type": "boolean"}}],
)
@api_roles(*DESK_ROLES)
def list_watchlist():
    """Entries, newest first; identity shown only as a masked hint."""
    site = desk_site(api_user())
    q = db.select(WatchlistEntry).where(WatchlistEntry.site_id == site.id)
    if request.args.get("active", "true").lower() != "all":
        q = q.where(WatchlistEntry.active.is_(request.args.get("active", "true").lower() != "false"))
    rows = db.session.scalars(q.order_by(WatchlistEntry.id.desc()).limit(500)).all()
    return jsonify({"items": [operations.entry_json(e) for e in rows]})


@api_route(
    "/watchlist",
    methods=("POST",),
    summary="Add a person (name with ID number or phone) or a plate",
    tag="watchlist",
    body=BODY,
    responses={"201": {"description": "Created"}},
)
@api_roles(*MANAGE_ROLES)
def add_watchlist():
    """Managers add entries."""
    entry = operations.add_entry(api_user(), desk_site(api_user()).id, json_body())
    return jsonify(operations.entry_json(entry)), 201


@api_route("/watchlist/<int:entry_id>/deactivate", methods=("POST",), summary="Take an entry off the list", tag="watchlist")
@api_roles(*MANAGE_ROLES)
def deactivate_watchlist(entry_id):
    """Managers deactivate entries."""
    entry = site_object(WatchlistEntry, entry_id, desk_site(api_user()))
    return jsonify(operations.entry_json(operations.deactivate(api_user(), entry)))
