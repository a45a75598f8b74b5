"""Staff in the JSON API: managers list, add, disable, enable and reset the second factor of guards and managers."""

from flask import jsonify, request

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.queries import site_scope
from portal.accounts.recovery import remaining
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.converters import is_id
from portal.core.errors import ApiError
from portal.core.jsonbody import json_body
from portal.extensions import db
from portal.sites.models import Site
from portal.staff import operations, queries

MEMBER_BODY = {
    "type": "object",
    "required": ["login", "name", "role"],
    "properties": {
        "login": {"type": "string", "maxLength": 64},
        "name": {"type": "string", "maxLength": 64},
        "role": {"type": "string", "enum": list(operations.MEMBER_ROLES)},
        "phone": {"type": "string", "description": "The enrolment link goes here by SMS"},
        "site_id": {"type": "integer", "description": "Only for administrators of every site"},
    },
}


def _json(user, **extra):
    out = queries.member_json(user, queries.last_logins([user.id]).get(user.id), queries.pending_links([user.id]).get(user.id))
    out.update(extra)
    return out


def _member(user_id):
    user = queries.visible_member(api_user(), user_id)
    if user is None:
        raise ApiError(404, "not_found", "No such person.")
    return user


@api_route(
    "/staff",
    summary="Guards and managers of the caller's community",
    tag="staff",
    params=[{"name": "site_id", "in": "query", "schema": {"type": "integer"}}],
)
@api_roles(*MANAGER_ROLES)
def list_staff():
    """Every guard and manager, with whether they enrolled and when they last logged in."""
    user = api_user()
    site_id = site_scope(user, request.args.get("site_id", type=int))
    rows = queries.members(user, site_id)
    ids = [u.id for u in rows]
    last, pending, left = queries.last_logins(ids), queries.pending_links(ids), remaining(ids)
    return jsonify({"items": [queries.member_json(u, last.get(u.id), pending.get(u.id), left.get(u.id, 0)) for u in rows]})


@api_route(
    "/staff",
    methods=("POST",),
    summary="Add a guard or manager; they enrol through the one-time link",
    tag="staff",
    body=MEMBER_BODY,
    responses={"201": {"description": "Created, with enrol_url (shown once)"}, "409": {"description": "Login taken"}},
)
@api_roles(*MANAGER_ROLES)
def add_staff():
    """A new member with a 72-hour single-use enrolment link."""
    user = api_user()
    data = json_body()
    wanted = data.get("site_id")
    site_id = site_scope(user, wanted if is_id(wanted) else None)
    site = db.session.get(Site, site_id) if site_id else None
    if site is None:
        raise ApiError(400, "invalid", "Some fields are invalid.", fields={"site_id": ("invalid", "Choose a community.")})
    member, plain = operations.add_member(user, site, data)
    return jsonify(_json(member, enrol_url=operations.enrol_url(plain))), 201


@api_route("/staff/<int:user_id>/disable", methods=("POST",), summary="Disable; sessions and tokens end now", tag="staff")
@api_roles(*MANAGER_ROLES)
def disable_staff(user_id):
    """Disable a member (never the last active manager: 409)."""
    return jsonify(_json(operations.disable_member(api_user(), _member(user_id))))


@api_route("/staff/<int:user_id>/enable", methods=("POST",), summary="Enable a disabled member", tag="staff")
@api_roles(*MANAGER_ROLES)
def enable_staff(user_id):
    """Enable a member again."""
    return jsonify(_json(operations.enable_member(api_user(), _member(user_id))))


@api_route(
    "/staff/<int:user_id>/reset-totp",
    methods=("POST",),
    summary="Reset the second factor; the member re-enrols through a new link",
    tag="staff",
)
@api_roles(*MANAGER_ROLES)
def reset_staff_totp(user_id):
    """Forget the member's authenticator and issue a new enrolment link (shown once)."""
    plain = operations.reset_second_factor(api_user(), _member(user_id))
    member = _member(user_id)
    return jsonify(_json(member, enrol_url=operations.enrol_url(plain)))
