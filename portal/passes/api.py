"""Pass endpoints of the JSON API: residents' passes, and managers' export and erasure of visitor data."""

from flask import jsonify, request

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.queries import resident_unit
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import Refused, ValidationFailed
from portal.core.jsonbody import json_body
from portal.core.timeutil import parse_iso
from portal.core.validators import check, clean_text
from portal.extensions import db
from portal.notify.operations import latest_for_pass
from portal.passes import operations, queries
from portal.passes.schema import parse_pass
from portal.passes.serialize import pass_json

PASS_BODY = {
    "type": "object",
    "required": ["visitor", "valid_from", "valid_until"],
    "properties": {
        "visitor": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "maxLength": 64},
                "phone": {"type": "string", "description": "E.164 or a mainland mobile"},
                "id_number": {"type": "string", "description": "GB 11643 resident ID"},
                "plate": {"type": "string"},
            },
        },
        "kind": {"type": "string", "enum": ["guest", "delivery", "contractor", "service"]},
        "unit_id": {"type": "integer", "description": "Needed when the resident has several units"},
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_until": {"type": "string", "format": "date-time"},
        "timezone": {"type": "string", "example": "Asia/Shanghai"},
        "max_entries": {
            "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["unlimited"]}],
            "nullable": True,
        },
        "schedule": {
            "type": "object",
            "properties": {
                "days": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}},
                "start": {"type": "string", "example": "08:00"},
                "end": {"type": "string", "example": "18:00"},
            },
        },
        "floors": {"type": "array", "items": {"type": "integer"}},
        "gates": {"type": "array", "items": {"type": "string"}},
        "company": {"type": "string"},
        "work_area": {"type": "string"},
        "note": {"type": "string"},
        "notify": {"type": "string", "enum": ["sms", "none"]},
    },
}


def _pass_or_404(pass_id):
    p = queries.get_for(api_user(), pass_id)
    if p is None:
        raise Refused("not_found", "No such pass.", kind="not_found")
    return p


@api_route(
    "/passes",
    methods=("POST",),
    summary="Invite a visitor",
    tag="passes",
    body=PASS_BODY,
    responses={"201": {"description": "Created: id, status, pass_url"}},
)
@api_roles("resident")
def create_pass():
    """Create a pass for one of the resident's units."""
    data = json_body()
    user = api_user()
    unit_id = data.get("unit_id")
    if unit_id is not None and (isinstance(unit_id, bool) or not isinstance(unit_id, int)):
        raise Refused("invalid", "Choose one of your units.", fields={"unit_id": ("invalid_unit", "Choose one of your units.")})
    unit = resident_unit(user, unit_id)
    values = parse_pass(data, unit, unit.building.site)
    p = operations.issue_pass(user, unit, values)
    return jsonify(pass_json(p, user)), 201


@api_route(
    "/passes",
    summary="List passes of my units",
    tag="passes",
    params=[
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(queries.STATES)}},
        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
        {"name": "offset", "in": "query", "schema": {"type": "integer"}},
    ],
)
@api_roles()
def list_passes():
    """Passes the caller may see, newest first."""
    user = api_user()
    limit = request.args.get("limit", 50, type=int)
    offset = request.args.get("offset", 0, type=int)
    status = request.args.get("status") or None
    if status is not None and status not in queries.STATES:
        raise ValidationFailed({"status": ("invalid_status", "One of: %(states)s.", {"states": ", ".join(queries.STATES)})})
    rows = queries.list_shown(user, status=status, limit=limit, offset=offset)
    return jsonify({"items": [pass_json(p, user) for p in rows]})


@api_route("/passes/<int:pass_id>", summary="One pass with its SMS delivery status", tag="passes")
@api_roles()
def get_pass(pass_id):
    """Pass details."""
    p = queries.get_shown(api_user(), pass_id)
    if p is None:
        raise Refused("not_found", "No such pass.", kind="not_found")
    return jsonify(pass_json(p, api_user(), messages=latest_for_pass(p.id)))


@api_route("/passes/<int:pass_id>/revoke", methods=("POST",), summary="Revoke a pass now", tag="passes")
@api_roles("resident", *MANAGER_ROLES)
def revoke_pass(pass_id):
    """Revoke; devices lose the credential first thing."""
    p = _pass_or_404(pass_id)
    data = json_body() if request.get_data() else {}
    reason = data.get("reason") if isinstance(data.get("reason"), str) else None
    operations.revoke_pass(p, api_user(), reason)
    return jsonify(pass_json(p, api_user()))


@api_route(
    "/passes/<int:pass_id>/approve",
    methods=("POST",),
    summary="Approve a contractor pass waiting for approval (managers)",
    tag="passes",
    responses={"200": {"description": "Approved: the gate admits it from now"}, "409": {"description": "Not waiting"}},
)
@api_roles(*MANAGER_ROLES)
def approve_pass(pass_id):
    """A manager approves a long contractor pass; the gate's not_approved stops."""
    p = _pass_or_404(pass_id)
    operations.approve_pass(p, api_user())
    return jsonify(pass_json(p, api_user()))


@api_route(
    "/passes/<int:pass_id>/extend",
    methods=("POST",),
    summary="Move the end of a pass later",
    tag="passes",
    body={
        "type": "object",
        "required": ["valid_until"],
        "properties": {"valid_until": {"type": "string", "format": "date-time"}},
    },
)
@api_roles("resident")
def extend_pass(pass_id):
    """Extend a live pass."""
    p = _pass_or_404(pass_id)
    data = json_body()
    try:
        until = parse_iso(data.get("valid_until"))
    except (ValueError, TypeError):
        raise Refused(
            "invalid",
            "Some fields are invalid.",
            fields={"valid_until": ("invalid_datetime", "Give a date and time with its offset, e.g. 2026-12-01T09:00:00+08:00.")},
        ) from None
    operations.extend_pass(p, until)
    return jsonify(pass_json(p, api_user()))


@api_route(
    "/passes/<int:pass_id>/resend",
    methods=("POST",),
    summary="Send the pass SMS again",
    tag="passes",
    responses={"202": {"description": "Queued"}},
)
@api_roles("resident")
def resend_pass(pass_id):
    """Queue the SMS again."""
    p = _pass_or_404(pass_id)
    msg = operations.resend_pass(p, api_user())
    db.session.flush()
    return jsonify({"message_id": msg.id, "status": msg.status}), 202


@api_route(
    "/passes/<int:pass_id>/export", summary="Everything held about the visitor of a pass (data-subject request)", tag="privacy"
)
@api_roles(*MANAGER_ROLES)
def export_visitor_data(pass_id):
    """The visitor's personal data in full, the SMS sent and every access record; audited."""
    return jsonify(queries.visitor_export(api_user(), _pass_or_404(pass_id)))


@api_route(
    "/passes/<int:pass_id>/erase",
    methods=("POST",),
    tag="privacy",
    summary="Erase the visitor's personal data now (the pass is revoked first)",
    body={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
)
@api_roles(*MANAGER_ROLES)
def erase_visitor_data(pass_id):
    """Erasure on request; access records stay without personal data."""
    p = _pass_or_404(pass_id)
    reason = check("reason", clean_text, json_body().get("reason"), max_len=200)
    operations.erase_now(p, reason)
    return jsonify({"pass_id": p.id, "status": "erased"})
