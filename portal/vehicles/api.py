"""Residents' cars API: residents register their household's plates, managers see and approve the site's."""

from flask import jsonify

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.accounts.queries import reachable_unit_ids, resident_unit
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.converters import is_id
from portal.core.errors import ApiError, ValidationFailed
from portal.core.jsonbody import json_body
from portal.desk.access import desk_site, site_object
from portal.extensions import db
from portal.sites.models import Unit
from portal.vehicles import operations, queries
from portal.vehicles.models import Vehicle

BODY = {
    "type": "object",
    "required": ["plate"],
    "properties": {
        "plate": {"type": "string", "example": "京A12345"},
        "unit_id": {"type": "integer", "description": "Residents: defaults to their only unit. Managers: required."},
    },
}
CAR = {
    "type": "object",
    "required": ["id", "plate", "unit_id", "status"],
    "properties": {
        "id": {"type": "integer"},
        "plate": {"type": "string"},
        "unit_id": {"type": "integer"},
        "unit": {"type": "string"},
        "status": {"type": "string", "enum": ["active", "pending"]},
        "created_at": {"type": "string", "format": "date-time"},
        "approved_at": {"type": "string", "format": "date-time", "nullable": True},
    },
}


def _one(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _unit_id(data):
    unit_id = data.get("unit_id")
    if unit_id is not None and (isinstance(unit_id, bool) or not isinstance(unit_id, int) or not is_id(unit_id)):
        raise ValidationFailed({"unit_id": ("invalid_unit", "Choose one of your units.")})
    return unit_id


def _car(user, vehicle_id):
    """A car the user may act on: a resident's household's, or one of a staff member's site; else 404."""
    if user.role == "resident":
        car = queries.get_for_resident(user, vehicle_id) if is_id(vehicle_id) else None
        if car is None:
            raise ApiError(404, "not_found", "Not found.")
        return car
    return site_object(Vehicle, vehicle_id, desk_site(user))


@api_route(
    "/vehicles",
    summary="Cars: a resident's households', or the site's for staff",
    tag="vehicles",
    responses={"200": _one({"type": "object", "properties": {"items": {"type": "array", "items": CAR}}}, "The cars")},
)
@api_roles("resident", *STAFF_ROLES)
def list_vehicles():
    """A resident sees their units' cars; staff see their site's."""
    user = api_user()
    if user.role == "resident":
        cars = queries.for_units(reachable_unit_ids(user))
    else:
        cars = queries.for_site(desk_site(user).id)
    return jsonify({"items": [operations.vehicle_json(c) for c in cars]})


@api_route(
    "/vehicles",
    methods=("POST",),
    summary="Register a household's car",
    tag="vehicles",
    body=BODY,
    responses={"201": _one(CAR, "Registered (status pending when the site's managers approve cars first)")},
)
@api_roles("resident", *MANAGER_ROLES)
def add_vehicle():
    """Residents register a plate for their unit; managers for any unit of their site."""
    user = api_user()
    data = json_body()
    unit_id = _unit_id(data)
    if user.role == "resident":
        unit = resident_unit(user, unit_id)
    else:
        unit = db.session.get(Unit, unit_id) if unit_id is not None else None
        if unit is None or unit.site_id != desk_site(user).id:
            raise ValidationFailed({"unit_id": ("invalid_unit", "Choose a unit of this community.")})
    car = operations.register(user, unit, data.get("plate"))
    return jsonify(operations.vehicle_json(car)), 201


@api_route(
    "/vehicles/<int:vehicle_id>",
    methods=("DELETE",),
    summary="Remove a car; the barrier refuses its plate at once",
    tag="vehicles",
    responses={"204": {"description": "Removed"}},
)
@api_roles("resident", *MANAGER_ROLES)
def delete_vehicle(vehicle_id):
    """Its household or a manager removes a car."""
    operations.remove(_car(api_user(), vehicle_id))
    return "", 204


@api_route(
    "/vehicles/<int:vehicle_id>/approve",
    methods=("POST",),
    summary="Approve a pending car (managers)",
    tag="vehicles",
    responses={"200": _one(CAR, "Approved")},
)
@api_roles(*MANAGER_ROLES)
def approve_vehicle(vehicle_id):
    """A manager lets a pending car in."""
    user = api_user()
    return jsonify(operations.vehicle_json(operations.approve(user, _car(user, vehicle_id))))


@api_route(
    "/vehicles/<int:vehicle_id>/withdraw",
    methods=("POST",),
    summary="Take a car's approval back (managers); barriers drop its plate",
    tag="vehicles",
    responses={"200": _one(CAR, "Waiting for approval again"), "409": {"description": "Not approved"}},
)
@api_roles(*MANAGER_ROLES)
def withdraw_vehicle(vehicle_id):
    """A manager takes a car's approval back."""
    user = api_user()
    return jsonify(operations.vehicle_json(operations.withdraw_approval(user, _car(user, vehicle_id))))
