"""Residents in the JSON API: who has not activated, resending the link, a unit's households, move in and out, the roll."""

from flask import Response, jsonify, request

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import Refused
from portal.core.jsonbody import json_body
from portal.residents import operations, queries
from portal.residents.export import roll_csv
from portal.sites.api import import_site

UNIT_BODY = {
    "type": "object",
    "required": ["name", "phone", "relation", "move_in"],
    "properties": {
        "name": {"type": "string", "maxLength": 64},
        "phone": {"type": "string", "description": "Mobile; the activation link goes here by SMS"},
        "relation": {"type": "string", "enum": ["owner", "tenant", "family"]},
        "move_in": {"type": "string", "format": "date"},
    },
}
MOVE_OUT_BODY = {
    "type": "object",
    "properties": {"date": {"type": "string", "format": "date", "description": "Today or earlier; default today"}},
}


def _not_found():
    return Refused("not_found", "Not found.", kind="not_found")


def _unit(unit_id):
    unit = queries.unit_for(api_user(), unit_id)
    if unit is None:
        raise _not_found()
    return unit


@api_route(
    "/sites/<slug>/residents",
    summary="Residents living at the site now, with whether they activated and when their link was sent and expires",
    tag="residents",
    params=[
        {
            "name": "activated",
            "in": "query",
            "schema": {"type": "integer", "enum": [0, 1]},
            "description": "0: only those who have not set a password yet; 1: only those who have",
        }
    ],
)
@api_roles(*MANAGER_ROLES)
def list_residents(slug):
    """The site's residents, phones masked; the view is audited."""
    user = api_user()
    site = import_site(slug, user)
    flag = request.args.get("activated")
    activated = None if flag not in ("0", "1") else flag == "1"
    rows = queries.residents_shown(user, site, queries.residents(site, activated))
    return jsonify({"items": [queries.resident_json(u, rs, link, site.timezone) for u, rs, link in rows]})


@api_route(
    "/residents/<int:resident_id>/activation",
    methods=("POST",),
    summary="Send a new activation link by SMS; the old one stops working at once (at most once a minute, 5 a day)",
    tag="residents",
    responses={"409": {"description": "Already activated, or no phone"}, "429": {"description": "Sent too recently"}},
)
@api_roles(*MANAGER_ROLES)
def resend_activation(resident_id):
    """Resend the activation SMS."""
    user = api_user()
    resident, site = queries.resident_for(user, resident_id)
    if resident is None:
        raise _not_found()
    link = operations.resend(user, resident, site)
    return jsonify({"id": resident.id, **queries.activation_json(resident, link)})


@api_route("/units/<int:unit_id>/residents", summary="A unit's current and past residents", tag="residents")
@api_roles(*MANAGER_ROLES)
def unit_residents(unit_id):
    """Who lives in a unit now and who lived there before."""
    unit = _unit(unit_id)
    site = unit.building.site
    current, past = queries.unit_households_shown(api_user(), unit)
    return jsonify(
        {
            "unit": {"id": unit.id, "label": unit.label, "building": unit.building.code, "number": unit.number},
            "current": [queries.residency_json(r, site.timezone) for r in current],
            "past": [queries.residency_json(r, site.timezone) for r in past],
        }
    )


@api_route(
    "/units/<int:unit_id>/residents",
    methods=("POST",),
    summary="Move a resident in (a new person gets an activation SMS)",
    tag="residents",
    body=UNIT_BODY,
    responses={"201": {"description": "Residency"}, "409": {"description": "Already lives here"}},
)
@api_roles(*MANAGER_ROLES)
def move_in(unit_id):
    """Move in: name, phone, relation, move-in day."""
    unit = _unit(unit_id)
    r = operations.add_to_unit(api_user(), unit, json_body())
    return jsonify(queries.residency_json(r, unit.building.site.timezone)), 201


@api_route(
    "/residencies/<int:residency_id>/move-out",
    methods=("POST",),
    summary="Move out on a day: the resident's passes for the unit are revoked; the last one out takes the cars",
    tag="residents",
    body=MOVE_OUT_BODY,
    responses={"409": {"description": "Already moved out"}},
)
@api_roles(*MANAGER_ROLES)
def move_out(residency_id):
    """Move out."""
    r = queries.residency_for(api_user(), residency_id)
    if r is None:
        raise _not_found()
    data = json_body() if request.get_data(cache=True) else {}
    revoked = operations.move_out_on(api_user(), r, data.get("date"))
    return jsonify(queries.residency_json(r, r.unit.building.site.timezone) | {"revoked_passes": [p.id for p in revoked]})


@api_route(
    "/sites/<slug>/residents/export.csv",
    summary="The roll as CSV (building,unit,name,phone,relation,move_in,activated); phones masked without the export right",
    tag="residents",
    responses={"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
@api_roles(*MANAGER_ROLES)
def export_roll(slug):
    """Export the roll; audited as a view of personal data."""
    site = import_site(slug, api_user())
    text, masked = roll_csv(api_user(), site)
    return csv_response(text, site, masked)


def csv_response(text, site, masked):
    """The CSV as a download, never cached."""
    name = f"residents-{site.slug}{'-masked' if masked else ''}.csv"
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@api_route(
    "/users/<int:user_id>/export-right",
    methods=("PUT", "DELETE"),
    summary="Administrators: let a manager export the roll with full phone numbers (PUT), or stop it (DELETE)",
    tag="residents",
    responses={"404": {"description": "No such manager"}},
)
@api_roles("admin")
def export_right(user_id):
    """Grant or take away the export right; audited."""
    target = queries.manager_for(api_user(), user_id)
    if target is None:
        raise _not_found()
    operations.set_export_right(api_user(), target, request.method == "PUT")
    return jsonify({"id": target.id, "login": target.login, "export_right": operations.may_export(target)})
