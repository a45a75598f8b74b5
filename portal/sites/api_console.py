"""The manager's console as JSON: communities, buildings, units, gates and the site's settings."""

from flask import jsonify

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import Refused
from portal.core.jsonbody import json_body
from portal.extensions import db
from portal.sites import operations as places
from portal.sites import queries, schema, settings
from portal.sites.models import Building, Gate, Unit

ERRORS = {k: {"$ref": "#/components/responses/Error"} for k in ("403", "404", "409")}


def managed(slug):
    """The site the caller runs, or a 404 (another community does not exist for them)."""
    site = queries.managed_site(api_user(), slug)
    if site is None:
        raise Refused("not_found", "No such site.", kind="not_found")
    return site


SETTINGS_BODY = {
    "type": "object",
    "description": 'Any of the settings, e.g. {"retention_days": 60, "pass_max_days": {"contractor": 7}}',
    "properties": {
        "satisfaction_target": {"type": "number", "minimum": 0.01, "maximum": 1},
        "feedback_sla": {
            "type": "object",
            "description": '{"high": [4, 24], "security/urgent": [0.5, 4]}: hours to answer, to resolve',
        },
        "retention_days": {"type": "integer", "minimum": 1, "maximum": 730},
        "parking_minutes": {"type": "integer", "minimum": 10, "maximum": 10080},
        "vehicles_per_unit": {"type": "integer", "minimum": 0, "maximum": 20},
        "pass_max_days": {"type": "object", "description": "days by pass kind (guest, delivery, contractor, service), 1-366"},
        "vehicles_need_approval": {"type": "boolean"},
        "contractor_passes_need_approval": {"type": "boolean"},
        "contractor_max_days": {"type": "integer", "minimum": 0, "maximum": 366},
        "keypad_codes": {"type": "boolean"},
    },
    "additionalProperties": False,
}


def _settings_json(site, changed=None):
    body = {"site": site.slug, "settings": settings.current(site)}
    if changed is not None:
        body["changed"] = sorted(changed)
    return body


@api_route("/sites/<slug>/settings", summary="A community's settings, defaults filled in", tag="sites")
@api_roles(*MANAGER_ROLES)
def get_settings(slug):
    """Every setting of the site."""
    return jsonify(_settings_json(managed(slug)))


@api_route(
    "/sites/<slug>/settings",
    methods=("PATCH",),
    summary="Change some of a community's settings (validated, each change audited old -> new)",
    tag="sites",
    body=SETTINGS_BODY,
    responses={"404": {"$ref": "#/components/responses/Error"}},
)
@api_roles(*MANAGER_ROLES)
def patch_settings(slug):
    """Validate every key given, then store and audit what changed."""
    site = managed(slug)
    changed = places.change_settings(site, settings.parse(json_body()))
    return jsonify(_settings_json(site, changed))


def _names(obj):
    return {"name": obj.name, "name_en": obj.name_en}


def unit_json(u):
    """A unit as the API shows it."""
    return {"id": u.id, "building_id": u.building_id, "number": u.number, "floor": u.floor}


def building_json(b):
    """A building with its units."""
    return {
        "id": b.id,
        "code": b.code,
        **_names(b),
        "lowest_floor": b.lowest_floor,
        "highest_floor": b.highest_floor,
        "units": [unit_json(u) for u in b.units],
    }


def gate_json(g):
    """A gate."""
    return {"id": g.id, "code": g.code, **_names(g), "kind": g.kind, "building_id": g.building_id}


def site_json(site, full=True):
    """A community; with full, its buildings (and units) and gates."""
    body = {
        "slug": site.slug,
        **_names(site),
        "timezone": site.timezone,
        "address": site.address,
        "directions": site.directions,
        "directions_en": site.directions_en,
    }
    if full:
        body["buildings"] = [building_json(b) for b in site.buildings]
        body["gates"] = [gate_json(g) for g in site.gates]
    return body


def _text(max_len=None):
    return {"type": "string", **({"maxLength": max_len} if max_len else {})}


NAMES = {"name": _text(120), "name_en": _text(120)}
SITE_BODY = {
    "type": "object",
    "properties": {
        "slug": _text(40),
        **NAMES,
        "timezone": _text(),
        "address": _text(255),
        "directions": _text(2000),
        "directions_en": _text(2000),
    },
}
BUILDING_BODY = {
    "type": "object",
    "properties": {"code": _text(20), **NAMES, "lowest_floor": {"type": "integer"}, "highest_floor": {"type": "integer"}},
}
UNIT_BODY = {"type": "object", "properties": {"number": _text(20), "floor": {"type": "integer"}}}
GATE_BODY = {
    "type": "object",
    "properties": {
        "code": _text(20),
        **NAMES,
        "kind": {"type": "string", "enum": list(schema.GATE_KINDS)},
        "building_id": {"type": ["integer", "null"]},
    },
}


def _body():
    data = json_body()
    if not isinstance(data, dict):
        raise Refused("invalid", "Send a JSON object.")
    return data


def _merged(current, fields):
    """A PATCH: the stored values with the ones sent laid over them."""
    data = _body()
    return {k: data.get(k, current.get(k)) for k in fields}


def _in_site(model, obj_id, site):
    obj = db.session.get(model, obj_id) if 0 < obj_id < 2**31 else None
    owner = obj.building.site_id if isinstance(obj, Unit) else getattr(obj, "site_id", None)
    if obj is None or owner != site.id:
        raise Refused("not_found", "Not found.", kind="not_found")
    return obj


@api_route("/sites", summary="The communities I run, with their buildings, units and gates", tag="sites")
@api_roles(*MANAGER_ROLES)
def list_sites():
    """A manager's own community; an all-sites admin's every one."""
    from portal.sites.console import visible_sites

    return jsonify({"items": [site_json(s) for s in visible_sites(api_user())]})


@api_route(
    "/sites",
    methods=("POST",),
    summary="Open a community (all-sites admins, or a manager with none, who then runs it)",
    tag="sites",
    body=SITE_BODY,
    responses={"201": {"description": "The community"}, **ERRORS},
)
@api_roles(*MANAGER_ROLES)
def create_site():
    """A new community with its first signing key."""
    from portal.sites.console import may_create

    user = api_user()
    if not may_create(user):
        raise Refused("forbidden", "You already run a community.", kind="forbidden")
    site = places.open_site(user, schema.parse_site(_body()))
    return jsonify(site_json(site)), 201


@api_route("/sites/<slug>", summary="A community with its buildings, units and gates", tag="sites", responses=ERRORS)
@api_roles(*MANAGER_ROLES)
def get_site(slug):
    """One community."""
    return jsonify(site_json(managed(slug)))


@api_route(
    "/sites/<slug>",
    methods=("PATCH",),
    summary="Change a community's names, time zone, address or directions (audited)",
    tag="sites",
    body=SITE_BODY,
    responses=ERRORS,
)
@api_roles(*MANAGER_ROLES)
def patch_site(slug):
    """Fields not sent keep their values; the slug stays."""
    site = managed(slug)
    places.update_site(site, schema.parse_site(_merged(site_json(site, full=False), schema.SITE_FIELDS), new=False))
    return jsonify(site_json(site))


@api_route(
    "/sites/<slug>/buildings",
    methods=("POST",),
    summary="Add a building (code unique in the community)",
    tag="sites",
    body=BUILDING_BODY,
    responses={"201": {"description": "The building"}, **ERRORS},
)
@api_roles(*MANAGER_ROLES)
def create_building(slug):
    """A building with its floor range."""
    site = managed(slug)
    return jsonify(building_json(places.create_building(site, schema.parse_building(_body())))), 201


@api_route(
    "/sites/<slug>/buildings/<int:building_id>",
    methods=("PATCH",),
    summary="Change a building's names or floors (a unit left outside them is refused)",
    tag="sites",
    body=BUILDING_BODY,
    responses=ERRORS,
)
@api_roles(*MANAGER_ROLES)
def patch_building(slug, building_id):
    """Fields not sent keep their values; the code stays."""
    b = _in_site(Building, building_id, managed(slug))
    places.update_building(b, schema.parse_building(_merged(building_json(b), schema.BUILDING_FIELDS), new=False))
    return jsonify(building_json(b))


@api_route(
    "/sites/<slug>/buildings/<int:building_id>",
    methods=("DELETE",),
    summary="Remove a building nobody lives in, with no history and no gates",
    tag="sites",
    responses={"204": {"description": "Removed"}, **ERRORS},
)
@api_roles(*MANAGER_ROLES)
def delete_building(slug, building_id):
    """409 while people live there or it has history."""
    places.delete_building(_in_site(Building, building_id, managed(slug)))
    return "", 204


@api_route(
    "/sites/<slug>/buildings/<int:building_id>/units",
    methods=("POST",),
    summary="Add a unit on one of the building's floors",
    tag="sites",
    body=UNIT_BODY,
    responses={"201": {"description": "The unit"}, **ERRORS},
)
@api_roles(*MANAGER_ROLES)
def create_unit(slug, building_id):
    """A unit, its number unique in the building."""
    b = _in_site(Building, building_id, managed(slug))
    return jsonify(unit_json(places.create_unit(b, schema.parse_unit(_body(), b)))), 201


@api_route(
    "/sites/<slug>/units/<int:unit_id>",
    methods=("PATCH",),
    summary="Change a unit's number or floor",
    tag="sites",
    body=UNIT_BODY,
    responses=ERRORS,
)
@api_roles(*MANAGER_ROLES)
def patch_unit(slug, unit_id):
    """Fields not sent keep their values."""
    u = _in_site(Unit, unit_id, managed(slug))
    places.update_unit(u, schema.parse_unit(_merged(unit_json(u), ("number", "floor")), u.building))
    return jsonify(unit_json(u))


@api_route(
    "/sites/<slug>/units/<int:unit_id>",
    methods=("DELETE",),
    summary="Remove a unit nobody lives in and nothing refers to",
    tag="sites",
    responses={"204": {"description": "Removed"}, **ERRORS},
)
@api_roles(*MANAGER_ROLES)
def delete_unit(slug, unit_id):
    """409 while people live there or it has history."""
    places.delete_unit(_in_site(Unit, unit_id, managed(slug)))
    return "", 204


@api_route(
    "/sites/<slug>/gates",
    methods=("POST",),
    summary="Add a gate (code unique in the community)",
    tag="sites",
    body=GATE_BODY,
    responses={"201": {"description": "The gate"}, **ERRORS},
)
@api_roles(*MANAGER_ROLES)
def create_gate(slug):
    """A gate for people or cars, optionally of one building."""
    site = managed(slug)
    return jsonify(gate_json(places.create_gate(site, schema.parse_gate(_body(), site)))), 201


@api_route(
    "/sites/<slug>/gates/<int:gate_id>",
    methods=("PATCH",),
    summary="Change a gate's names, kind or building",
    tag="sites",
    body=GATE_BODY,
    responses=ERRORS,
)
@api_roles(*MANAGER_ROLES)
def patch_gate(slug, gate_id):
    """Fields not sent keep their values; the code stays."""
    site = managed(slug)
    g = _in_site(Gate, gate_id, site)
    places.update_gate(g, schema.parse_gate(_merged(gate_json(g), schema.GATE_FIELDS), site, new=False))
    return jsonify(gate_json(g))


@api_route(
    "/sites/<slug>/gates/<int:gate_id>",
    methods=("DELETE",),
    summary="Remove a gate no device serves",
    tag="sites",
    responses={"204": {"description": "Removed"}, **ERRORS},
)
@api_roles(*MANAGER_ROLES)
def delete_gate(slug, gate_id):
    """409 while a device serves it."""
    places.delete_gate(_in_site(Gate, gate_id, managed(slug)))
    return "", 204
