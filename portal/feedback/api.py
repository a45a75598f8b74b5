"""Feedback endpoints of the JSON API: filings, their thread and photos, the team's actions, surveys."""

from flask import jsonify, request

from portal.accounts.models import STAFF_ROLES
from portal.accounts.sessions import api_roles, api_user, get_user
from portal.api.blueprint import api_route
from portal.core.errors import Refused
from portal.core.jsonbody import json_body
from portal.desk.access import desk_site
from portal.extensions import db
from portal.feedback import operations, queries, schema
from portal.feedback.filing import file_for_resident, file_from
from portal.feedback.models import CATEGORIES, OUTCOMES, PRIORITIES
from portal.feedback.photos import photo_response
from portal.feedback.serialize import complaint_json, message_json

FILING = {
    "type": "object",
    "required": ["category", "description"],
    "properties": {
        "kind": {"type": "string", "enum": ["complaint", "suggestion", "help"], "default": "complaint"},
        "category": {
            "type": "string",
            "enum": list(CATEGORIES),
            "description": "help requests: locked_out, escort or delivery_held (their own SLA)",
        },
        "source": {"type": "string", "enum": ["counter", "phone", "hotline"], "description": "Staff: where it was taken"},
        "phone": {"type": "string", "description": "Staff: the resident's phone, instead of unit_id"},
        "location": {"type": "string", "maxLength": 120},
        "description": {"type": "string", "maxLength": 4000},
        "anonymous": {"type": "boolean", "description": "Suggestions only: staff see no identity"},
        "unit_id": {"type": "integer", "description": "Needed when the resident has several units; staff: the unit"},
    },
    "description": "JSON, or multipart/form-data with the same fields plus up to 3 files named photos "
    "(JPEG, PNG or WebP, 5 MB each)",
}
TEXT = {"type": "object", "required": ["body"], "properties": {"body": {"type": "string", "maxLength": 4000}}}
OUTCOME = {
    "type": "object",
    "required": ["outcome", "note"],
    "properties": {"outcome": {"type": "string", "enum": list(OUTCOMES)}, "note": {"type": "string", "maxLength": 4000}},
}
ERR = {"$ref": "#/components/responses/Error"}


def _complaint(complaint_id):
    c = queries.get_for(api_user(), complaint_id)
    if c is None:
        raise Refused("not_found", "No such feedback.", kind="not_found")
    return c


def _out(c, status=200):
    return jsonify(complaint_json(c, api_user(), with_thread=True)), status


@api_route(
    "/complaints",
    methods=("POST",),
    summary="File a complaint or suggestion (JSON or multipart with photos)",
    tag="feedback",
    body=FILING,
    responses={"201": {"description": "Created"}, "413": ERR},
)
@api_roles("resident", *STAFF_ROLES)
def create_complaint():
    """A resident files feedback for their unit; a guard or manager files for a resident (source, unit_id or phone)."""
    user = api_user()
    if request.mimetype == "multipart/form-data":
        data, files = request.form.to_dict(), request.files
    else:
        data, files = json_body(), None
    if user.is_staff:
        c = file_for_resident(user, desk_site(user), data, files)
    else:
        c = file_from(user, data, files)
    return _out(c, 201)


@api_route(
    "/complaints",
    summary="My filings (residents) or the site's queue (staff)",
    tag="feedback",
    params=[
        {"name": n, "in": "query", "schema": {"type": t}}
        for n, t in (
            ("status", "string"),
            ("category", "string"),
            ("overdue", "boolean"),
            ("limit", "integer"),
            ("offset", "integer"),
        )
    ],
)
@api_roles()
def list_complaints():
    """Filings the caller may see, newest first."""
    user = api_user()
    rows = queries.list_for(
        user,
        status=request.args.get("status"),
        category=request.args.get("category"),
        overdue=request.args.get("overdue") in ("1", "true"),
        limit=request.args.get("limit", 50, type=int),
        offset=request.args.get("offset", 0, type=int),
    )
    return jsonify({"items": [complaint_json(c, user) for c in rows]})


@api_route(
    "/complaints/<int:complaint_id>",
    summary="One filing with its thread",
    tag="feedback",
    responses={"200": {"description": "OK"}, "404": ERR},
)
@api_roles()
def get_complaint(complaint_id):
    """Details; a resident opening it marks the answers as read."""
    c = _complaint(complaint_id)
    if api_user().id == c.author_id:
        operations.mark_seen(c)
    return _out(c)


@api_route("/complaints/<int:complaint_id>/messages", summary="The thread", tag="feedback")
@api_roles()
def list_messages(complaint_id):
    """Thread entries the caller may read."""
    c = _complaint(complaint_id)
    user = api_user()
    return jsonify({"items": [message_json(m, c, user) for m in queries.thread(c, user)]})


@api_route(
    "/complaints/<int:complaint_id>/messages",
    methods=("POST",),
    tag="feedback",
    summary="Add to the thread: residents write; staff answer (visible, notified) or add an internal note",
    body={
        "type": "object",
        "required": ["body"],
        "properties": {"body": {"type": "string", "maxLength": 4000}, "internal": {"type": "boolean"}},
    },
    responses={"201": {"description": "Created"}},
)
@api_roles()
def post_message(complaint_id):
    """Residents add to their own thread; staff answer or note."""
    c = _complaint(complaint_id)
    data = json_body()
    body = schema.parse_message(data)
    user = api_user()
    if user.is_staff:
        msg = operations.add_note(c, user, body) if data.get("internal") is True else operations.respond(c, user, body)
    else:
        msg = operations.add_resident_message(c, user, body)
    db.session.flush()
    return jsonify(message_json(msg, c, user)), 201


@api_route(
    "/complaints/<int:complaint_id>/photos/<int:photo_id>",
    summary="A photo of a filing (owner or the site's staff)",
    tag="feedback",
    responses={"200": {"description": "The image", "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}, "404": ERR},
)
@api_roles()
def complaint_photo(complaint_id, photo_id):
    """The re-encoded photo, only for those allowed to see the filing."""
    photo = queries.photo_for(api_user(), photo_id, complaint_id)
    if photo is None:
        raise Refused("not_found", "No such photo.", kind="not_found")
    return photo_response(photo)


@api_route(
    "/complaints/<int:complaint_id>/triage",
    methods=("POST",),
    summary="Set priority (and category)",
    tag="feedback",
    body={
        "type": "object",
        "required": ["priority"],
        "properties": {
            "priority": {"type": "string", "enum": list(PRIORITIES)},
            "category": {"type": "string", "enum": list(CATEGORIES)},
        },
    },
)
@api_roles(*STAFF_ROLES)
def triage_complaint(complaint_id):
    """Triage; the SLA deadlines are recomputed."""
    c = _complaint(complaint_id)
    priority, category = schema.parse_priority(json_body())
    operations.triage(c, api_user(), priority, category)
    return _out(c)


@api_route(
    "/complaints/<int:complaint_id>/assign",
    methods=("POST",),
    summary="Assign to a team member",
    tag="feedback",
    body={"type": "object", "required": ["assignee_id"], "properties": {"assignee_id": {"type": "integer"}}},
)
@api_roles(*STAFF_ROLES)
def assign_complaint(complaint_id):
    """Assign to a guard or manager of the same site."""
    c = _complaint(complaint_id)
    operations.assign(c, api_user(), get_user(schema.parse_id(json_body(), "assignee_id")))
    return _out(c)


@api_route(
    "/complaints/<int:complaint_id>/respond",
    methods=("POST",),
    summary="Answer the resident (notified by SMS)",
    tag="feedback",
    body=TEXT,
)
@api_roles(*STAFF_ROLES)
def respond_complaint(complaint_id):
    """A visible answer; starts the first-response clock's stop."""
    c = _complaint(complaint_id)
    operations.respond(c, api_user(), schema.parse_message(json_body()))
    return _out(c)


@api_route(
    "/complaints/<int:complaint_id>/resolve",
    methods=("POST",),
    tag="feedback",
    summary="Resolve (409 response_required unless the resident has an answer; give one in body)",
    body={"type": "object", "properties": {"body": {"type": "string", "maxLength": 4000}}},
    responses={"200": {"description": "OK"}, "409": ERR},
)
@api_roles(*STAFF_ROLES)
def resolve_complaint(complaint_id):
    """Resolve; a follow-up visit task opens."""
    c = _complaint(complaint_id)
    data = json_body() if request.get_data() else {}
    body = schema.parse_message(data) if data.get("body") not in (None, "") else None
    operations.resolve(c, api_user(), body)
    return _out(c)


@api_route(
    "/complaints/<int:complaint_id>/follow-up",
    methods=("POST",),
    tag="feedback",
    body=OUTCOME,
    summary="Record the follow-up visit (回访): solved/unreachable closes, not_solved reopens",
    responses={"200": {"description": "OK"}, "409": ERR},
)
@api_roles(*STAFF_ROLES)
def follow_up_complaint(complaint_id):
    """The outcome of the follow-up visit."""
    c = _complaint(complaint_id)
    outcome, note = schema.parse_outcome(json_body(), allowed=("solved", "not_solved", "unreachable"))
    operations.follow_up(c, api_user(), outcome, note)
    return _out(c)


@api_route(
    "/complaints/<int:complaint_id>/reopen",
    methods=("POST",),
    summary="Reopen a resolved or closed filing",
    tag="feedback",
    body={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
    responses={"200": {"description": "OK"}, "409": ERR},
)
@api_roles(*STAFF_ROLES)
def reopen_complaint(complaint_id):
    """Reopen with a reason."""
    c = _complaint(complaint_id)
    operations.reopen(c, api_user(), schema.parse_message(json_body(), name="reason"))
    return _out(c)


from portal.feedback import api_tasks  # noqa: E402,F401  (follow-up and survey endpoints)
