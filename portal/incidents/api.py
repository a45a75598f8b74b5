"""Incidents in the JSON API: staff log them, follow the timeline, assign people and add photos; residents 403."""

from flask import jsonify, request

from portal.accounts.models import STAFF_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import ApiError
from portal.core.jsonbody import json_body
from portal.desk.access import desk_site, site_object, time_arg
from portal.feedback.photos import photo_response
from portal.feedback.uploads import from_files
from portal.incidents import operations, queries
from portal.incidents.forms import report_from
from portal.incidents.models import KINDS, SEVERITIES, STATUSES, Incident
from portal.incidents.serialize import incident_json

TAG = "incidents"
ERR = {"$ref": "#/components/responses/Error"}
REPORT = {
    "type": "object",
    "required": ["kind", "location", "description", "severity"],
    "properties": {
        "kind": {"type": "string", "enum": list(KINDS)},
        "location": {"type": "string", "maxLength": 120, "example": "B栋 2号电梯"},
        "description": {"type": "string", "maxLength": 4000},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "building_id": {"type": "integer", "description": "The building, so the nearest guards are offered it first"},
        "source": {"type": "string", "enum": ["desk", "phone", "api"], "default": "api"},
    },
    "description": "JSON, or multipart/form-data with the same fields plus up to 3 files named photos "
    "(JPEG, PNG or WebP, 5 MB each)",
}
NOTE = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 4000}}}
RESOLVE = {"type": "object", "required": ["report"], "properties": {"report": {"type": "string", "maxLength": 4000}}}
ASSIGN = {"type": "object", "required": ["user_id"], "properties": {"user_id": {"type": "integer"}}}
ONE = {"200": {"description": "The incident with its timeline"}, "404": ERR, "409": ERR}


def _incident(incident_id):
    return site_object(Incident, incident_id, desk_site(api_user()))


def _full(inc, status=200):
    return jsonify(incident_json(inc, full=True)), status


def _optional_note():
    """The optional note of a timeline step: an empty body is fine, a malformed one is a 400."""
    return json_body().get("note") if request.get_data(cache=True).strip() else None


@api_route(
    "/incidents",
    methods=("POST",),
    summary="Log an incident (JSON or multipart with photos)",
    tag=TAG,
    body=REPORT,
    responses={"201": {"description": "Logged: {id, status, ...}"}, "403": ERR, "413": ERR},
)
@api_roles(*STAFF_ROLES)
def create_incident():
    """A guard or manager logs what they saw; high and critical ones are offered to the nearest guards."""
    user = api_user()
    site = desk_site(user)
    multipart = request.mimetype == "multipart/form-data"
    data = request.form.to_dict() if multipart else json_body()
    photos = from_files(request.files) if multipart else []
    inc = operations.create_incident(site, **report_from(data, site, default_source="api"), reporter=user, photos=photos)
    return _full(inc, 201)


@api_route(
    "/incidents",
    summary="The site's incidents, unresolved first (staff)",
    tag=TAG,
    params=[
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": [*STATUSES, "unresolved"]}},
        {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(KINDS)}},
        {"name": "severity", "in": "query", "schema": {"type": "string", "enum": list(SEVERITIES)}},
        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "site_id", "in": "query", "schema": {"type": "integer"}, "description": "All-sites admins"},
    ],
    responses={"200": {"description": "{items: [...]}"}, "403": ERR},
)
@api_roles(*STAFF_ROLES)
def list_incidents():
    """Filters by status, kind, severity and report time."""
    site = desk_site(api_user())
    rows = queries.list_for(
        site.id,
        status=request.args.get("status"),
        kind=request.args.get("kind"),
        severity=request.args.get("severity"),
        start=time_arg("since"),
        end=time_arg("until"),
        limit=request.args.get("limit", 50, type=int),
        offset=request.args.get("offset", 0, type=int),
    )
    return jsonify({"items": [incident_json(i) for i in rows]})


@api_route("/incidents/<int:incident_id>", summary="One incident with its timeline, people and photos", tag=TAG, responses=ONE)
@api_roles(*STAFF_ROLES)
def get_incident(incident_id):
    """The whole record; the view is audited (descriptions name people)."""
    inc = queries.shown(api_user(), _incident(incident_id))
    return _full(inc)


@api_route("/incidents/<int:incident_id>/acknowledge", methods=("POST",), summary="I have it", tag=TAG, body=NOTE, responses=ONE)
@api_roles(*STAFF_ROLES)
def acknowledge_incident(incident_id):
    """Acknowledge: escalation stops."""
    inc = _incident(incident_id)
    return _full(operations.acknowledge(inc, api_user(), _optional_note()))


@api_route("/incidents/<int:incident_id>/on-scene", methods=("POST",), summary="I am there", tag=TAG, body=NOTE, responses=ONE)
@api_roles(*STAFF_ROLES)
def incident_on_scene(incident_id):
    """On scene (acknowledges too)."""
    inc = _incident(incident_id)
    return _full(operations.on_scene(inc, api_user(), _optional_note()))


@api_route(
    "/incidents/<int:incident_id>/resolve",
    methods=("POST",),
    summary="Resolve with the closing report",
    tag=TAG,
    body=RESOLVE,
    responses=ONE,
)
@api_roles(*STAFF_ROLES)
def resolve_incident(incident_id):
    """Resolved, with what happened and what was done."""
    inc = _incident(incident_id)
    return _full(operations.resolve(inc, api_user(), json_body().get("report")))


@api_route(
    "/incidents/<int:incident_id>/assignees",
    methods=("POST",),
    summary="Put a guard or manager on it",
    tag=TAG,
    body=ASSIGN,
    responses=ONE,
)
@api_roles(*STAFF_ROLES)
def assign_incident(incident_id):
    """Assign a person of the site."""
    inc = _incident(incident_id)
    return _full(operations.assign(inc, api_user(), json_body().get("user_id")))


@api_route(
    "/incidents/<int:incident_id>/photos",
    methods=("POST",),
    summary="Add photos (multipart, files named photos)",
    tag=TAG,
    responses={"200": {"description": "The incident"}, "404": ERR, "409": ERR, "413": ERR},
)
@api_roles(*STAFF_ROLES)
def add_incident_photos(incident_id):
    """Up to 3 photos per upload, 12 per incident."""
    inc = _incident(incident_id)
    return _full(operations.add_photos(inc, api_user(), from_files(request.files)))


@api_route(
    "/incidents/<int:incident_id>/photos/<int:photo_id>",
    summary="A photo of an incident (the site's staff)",
    tag=TAG,
    responses={"200": {"description": "The re-encoded image"}, "404": ERR},
)
@api_roles(*STAFF_ROLES)
def incident_photo(incident_id, photo_id):
    """The stored photo, served with no-sniff headers."""
    inc = _incident(incident_id)
    p = queries.photo_shown(api_user(), inc, photo_id)
    if p is None:
        raise ApiError(404, "not_found", "Not found.")
    return photo_response(p)
