"""Auth endpoints of the JSON API."""

from flask import jsonify

from portal.accounts import bearer
from portal.accounts.auth import authenticate
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.audit.operations import record
from portal.core.jsonbody import json_body
from portal.extensions import csrf, limiter

TOKEN_BODY = {
    "type": "object",
    "required": ["login", "password"],
    "properties": {
        "login": {"type": "string"},
        "password": {"type": "string"},
        "otp": {"type": "string", "description": "6-digit TOTP, or a single-use recovery code; required for staff"},
    },
}


@api_route(
    "/auth/token",
    methods=("POST",),
    summary="Exchange credentials for a bearer token",
    tag="auth",
    auth="none",
    body=TOKEN_BODY,
    responses={"200": {"description": "Token"}, "429": {"description": "Throttled; see Retry-After"}},
)
@csrf.exempt  # no cookie is read or set here; the JSON body carries the credentials
@limiter.limit("30/minute")
def create_token():
    """Log in for the API."""
    data = json_body()
    user = authenticate(data.get("login"), data.get("password"), data.get("otp"))
    plain, row = bearer.issue_user_token(user)
    record("auth.token", "user", user.id, site_id=user.site_id, actor=user)
    return jsonify({"token": plain, "expires_at": row.expires_at.isoformat(), "role": user.role})


@api_route("/auth/logout", methods=("POST",), summary="Revoke the bearer token used", tag="auth")
@api_roles()
def revoke_token():
    """End this API token."""
    row = bearer.lookup(bearer.bearer(), "user")
    if row is not None:
        bearer.revoke(row)
    return jsonify({"ok": True})


@api_route("/me", summary="Who am I, and my units", tag="auth")
@api_roles()
def me():
    """The logged-in user and their current units."""
    user = api_user()
    return jsonify(
        {
            "id": user.id,
            "login": user.login,
            "name": user.display_name,
            "role": user.role,
            "site_id": user.site_id,
            "locale": user.locale,
            "units": [{"id": r.unit.id, "label": r.unit.label, "relation": r.relation} for r in user.current_residencies()],
        }
    )
