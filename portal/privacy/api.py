"""Privacy in the JSON API: a community's retention periods (managers) and the visit-record search for investigations."""

from flask import jsonify, request

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.jsonbody import json_body
from portal.core.validators import report_window
from portal.desk.access import desk_site
from portal.privacy import investigations, operations, queries
from portal.sites.api import import_site

PERIOD = {
    "type": "object",
    "properties": {
        "days": {"type": "integer"},
        "default": {"type": "integer"},
        "own": {"type": "boolean"},
        "min": {"type": "integer"},
        "max": {"type": "integer"},
    },
}
KIND_PROPS = dict.fromkeys(queries.KINDS, PERIOD)


@api_route(
    "/sites/<slug>/retention",
    summary="How long this community keeps each kind of data (its own period or the default)",
    tag="privacy",
    responses={
        "200": {
            "description": "kind -> period",
            "content": {"application/json": {"schema": {"type": "object", "properties": KIND_PROPS}}},
        }
    },
)
@api_roles(*MANAGER_ROLES)
def get_retention(slug):
    """visits, faces, patrol_photos: days, the default, and whether the site set its own."""
    return jsonify(queries.for_site(import_site(slug, api_user()).id))


@api_route(
    "/sites/<slug>/retention",
    methods=("PUT",),
    summary="Set this community's retention periods; null goes back to the default; the hourly purges use them",
    tag="privacy",
    body={
        "type": "object",
        "properties": {kind: {"type": "integer", "nullable": True} for kind in queries.KINDS},
        "example": {"visits": 180, "faces": 7},
    },
)
@api_roles(*MANAGER_ROLES)
def put_retention(slug):
    """Each kind within its own bounds (faces at most 90 days); audited with the periods before and after."""
    user = api_user()
    return jsonify(operations.set_retention(user, import_site(slug, user), json_body()))


@api_route(
    "/investigations/visits",
    summary="Who came: visitors by name and unit with their entry times, as far as retention has kept them (audited)",
    tag="privacy",
    params=[{"name": n, "in": "query", "schema": {"type": "string"}} for n in ("from", "to", "name", "unit")],
)
@api_roles(*MANAGER_ROLES)
def investigate_visits():
    """Default period: the last 30 days."""
    user = api_user()
    start, end = report_window(request.args)
    name = (request.args.get("name") or "").strip()[:64] or None
    unit = (request.args.get("unit") or "").strip()[:40] or None
    items = investigations.visits(user, desk_site(user), start, end, name=name, unit=unit)
    return jsonify({"items": items, "from": start.isoformat(), "to": end.isoformat()})
