"""Permits and freight approvals in the JSON API: residents apply for their units, managers decide."""

from flask import jsonify, request

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import Refused, ValidationFailed
from portal.core.jsonbody import json_body
from portal.desk.access import desk_site, site_object
from portal.feedback.photos import photo_response
from portal.permits import documents, operations, queries
from portal.permits.models import STATUSES, FreightApproval
from portal.permits.serialize import freight_json, permit_json

WORKER = {
    "type": "object",
    "required": ["name", "id_number"],
    "properties": {"name": {"type": "string"}, "phone": {"type": "string"}, "id_number": {"type": "string"}},
}
APPLICATION = {
    "type": "object",
    "required": ["company", "responsible_name", "responsible_phone", "work_area", "starts_on", "ends_on", "workers"],
    "properties": {
        "kind": {"type": "string", "enum": ["renovation", "contractor"]},
        "unit_id": {"type": "integer", "description": "Residents: defaults to their only unit. Managers: a vacant unit."},
        "company": {"type": "string", "maxLength": 120},
        "responsible_name": {"type": "string"},
        "responsible_phone": {"type": "string"},
        "work_area": {"type": "string", "maxLength": 120},
        "starts_on": {"type": "string", "format": "date"},
        "ends_on": {"type": "string", "format": "date"},
        "days": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}},
        "daily_start": {"type": "string", "example": "08:00"},
        "daily_end": {"type": "string", "example": "18:00"},
        "workers": {"type": "array", "items": WORKER},
        "plates": {"type": "array", "items": {"type": "string"}},
    },
    "description": "JSON, or multipart/form-data with the same fields (workers, plates and days as JSON text) plus files "
    "licence, worker_ids and documents (photos or PDFs, 5 MB each, at most 12)",
}
REASON = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 300}}}
FREIGHT = {
    "type": "object",
    "required": ["plate", "company", "purpose", "valid_from", "valid_until"],
    "properties": {
        "plate": {"type": "string"},
        "company": {"type": "string"},
        "purpose": {"type": "string"},
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_until": {"type": "string", "format": "date-time"},
    },
}


def _permit(permit_id):
    permit = queries.get_for(api_user(), permit_id)
    if permit is None:
        raise Refused("not_found", "No such permit.", kind="not_found")
    return permit


def _reason():
    data = json_body() if request.get_data() else {}
    return data.get("reason")


@api_route(
    "/permits",
    methods=("POST",),
    summary="Apply for a renovation or contractor permit (residents; managers for a vacant unit)",
    tag="permits",
    body=APPLICATION,
    responses={"201": {"description": "Created, waiting for a manager"}, "413": {"$ref": "#/components/responses/Error"}},
)
@api_roles("resident", *MANAGER_ROLES)
def apply_permit():
    """A resident applies for their unit's works, with the workers and documents."""
    user = api_user()
    if request.mimetype == "multipart/form-data":
        too_large = documents.guard_request(request)
        if too_large is not None:
            raise too_large
        data = request.form.to_dict()
        docs = documents.from_files(request.files)
    else:
        data, docs = json_body(), []
    permit = operations.apply(user, queries.applicant_unit(user, data), data, docs)
    return jsonify(permit_json(permit)), 201


@api_route(
    "/permits",
    summary="Permits: a resident's units', or the site's for staff",
    tag="permits",
    params=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}}],
)
@api_roles("resident", *STAFF_ROLES)
def list_permits():
    """Newest first; staff see their site's, residents their units'."""
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ValidationFailed({"status": ("invalid_status", "Choose one of the offered values.")})
    return jsonify({"items": [permit_json(p) for p in queries.list_for(api_user(), status)]})


@api_route("/permits/<int:permit_id>", summary="One permit with its workers (masked) and documents", tag="permits")
@api_roles("resident", *STAFF_ROLES)
def get_permit(permit_id):
    """A permit the caller may see; staff views of the workers' data are audited."""
    return jsonify(permit_json(queries.shown(api_user(), _permit(permit_id))))


@api_route("/permits/<int:permit_id>/documents/<int:document_id>", summary="A permit's document (photo or PDF)", tag="permits")
@api_roles("resident", *MANAGER_ROLES)
def permit_document(permit_id, document_id):
    """The stored bytes, served inline with the sniffed type; staff views are audited."""
    doc = queries.document_shown(api_user(), _permit(permit_id), document_id)
    if doc is None:
        raise Refused("not_found", "No such document.", kind="not_found")
    return photo_response(doc)


def _decide(permit_id, action):
    user = api_user()
    permit = _permit(permit_id)
    action(permit, user, _reason())
    return jsonify(permit_json(permit))


@api_route(
    "/permits/<int:permit_id>/approve", methods=("POST",), summary="Approve; each worker gets a pass", tag="permits", body=REASON
)
@api_roles(*MANAGER_ROLES)
def approve_permit(permit_id):
    """Approve a pending permit."""
    return _decide(permit_id, operations.approve)


@api_route("/permits/<int:permit_id>/refuse", methods=("POST",), summary="Refuse with a reason", tag="permits", body=REASON)
@api_roles(*MANAGER_ROLES)
def refuse_permit(permit_id):
    """Refuse a pending permit."""
    return _decide(permit_id, operations.refuse)


@api_route(
    "/permits/<int:permit_id>/suspend",
    methods=("POST",),
    summary="Suspend an approved permit: its passes are revoked at once",
    tag="permits",
    body=REASON,
)
@api_roles(*MANAGER_ROLES)
def suspend_permit(permit_id):
    """Stop the works now."""
    return _decide(permit_id, operations.suspend)


@api_route(
    "/permits/<int:permit_id>/resume",
    methods=("POST",),
    summary="Resume a suspended permit within its dates: new passes are issued; the revoked ones stay revoked",
    tag="permits",
    body=REASON,
)
@api_roles(*MANAGER_ROLES)
def resume_permit(permit_id):
    """Let the works go on."""
    return _decide(permit_id, operations.resume)


@api_route("/freight", summary="Freight and engineering vehicles approved for the site", tag="permits")
@api_roles(*STAFF_ROLES)
def list_freight():
    """The site's freight approvals, newest first."""
    return jsonify({"items": [freight_json(r) for r in queries.freight_for_site(desk_site(api_user()).id)]})


@api_route(
    "/freight",
    methods=("POST",),
    summary="Pre-approve a freight or engineering vehicle for a window (managers)",
    tag="permits",
    body=FREIGHT,
    responses={"201": {"description": "Approved: the barrier admits the plate inside the window"}},
)
@api_roles(*MANAGER_ROLES)
def add_freight():
    """A manager lets a plate in for a window."""
    user = api_user()
    return jsonify(freight_json(operations.add_freight(user, desk_site(user), json_body()))), 201


@api_route("/freight/<int:freight_id>/revoke", methods=("POST",), summary="Withdraw a freight approval", tag="permits")
@api_roles(*MANAGER_ROLES)
def revoke_freight(freight_id):
    """The barrier refuses the plate from the next read."""
    user = api_user()
    row = site_object(FreightApproval, freight_id, desk_site(user))
    return jsonify(freight_json(operations.revoke_freight(row, user)))
