"""Public key sets of a site for offline verifiers, and managers moving residents in and out."""

from flask import jsonify, request

from portal.accounts.models import MANAGER_ROLES, RELATIONS, User
from portal.accounts.operations import create_user
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import PATHS, api_route
from portal.audit.operations import record
from portal.core import validators as v
from portal.core.errors import Refused, ValidationFailed
from portal.core.i18n import N_
from portal.core.jsonbody import json_body
from portal.core.timeutil import parse_iso
from portal.extensions import db
from portal.passes import keys
from portal.sites import queries, roll
from portal.sites.operations import move_in, move_out
from portal.sites.roll_import import ON_RESIDENTS_IMPORTED, UNUSABLE_PASSWORD, import_roll


@api_route(
    "/sites/<slug>/keys",
    summary="Ed25519 public keys that verify this site's passes (JWK set)",
    tag="sites",
    auth="none",
    responses={"200": {"description": "JWK set"}, "404": {"description": "No such site"}},
)
def site_keys(slug):
    """The site's key set; several keys verify at once during rotation."""
    site = queries.site_by_slug(slug[:40])
    if site is None:
        raise Refused("not_found", "No such site.", kind="not_found")
    return jsonify(keys.jwks(site.id) | {"site_id": site.id, "token_format": "base32(v1|kid|site|pass|from|until|step|ed25519)"})


RESIDENT_BODY = {
    "type": "object",
    "required": ["unit_id", "relation"],
    "properties": {
        "unit_id": {"type": "integer"},
        "relation": {"type": "string", "enum": list(RELATIONS)},
        "login": {"type": "string", "description": "An existing resident's login, or a new one with password and name"},
        "password": {"type": "string", "description": "Leave out to send an activation link by SMS to phone"},
        "name": {"type": "string"},
        "phone": {"type": "string"},
        "starts_at": {"type": "string", "format": "date-time"},
    },
}


def _site_id():
    user = api_user()
    if user.site_id is None:
        raise Refused("site_required", "Act as a manager of one community.")
    return user.site_id


def residency_json(r):
    """A residency as managers see it."""
    return {
        "id": r.id,
        "user": {"id": r.user.id, "login": r.user.login, "name": r.user.display_name},
        "unit": {"id": r.unit.id, "label": r.unit.label},
        "relation": r.relation,
        "starts_at": r.starts_at.isoformat(),
        "ends_at": r.ends_at.isoformat() if r.ends_at else None,
    }


@api_route("/residencies", summary="Current residents of my community", tag="residents")
@api_roles(*MANAGER_ROLES)
def list_residencies():
    """Residents and their units."""
    return jsonify({"items": [residency_json(r) for r in queries.residencies_of_site(_site_id())]})


@api_route(
    "/residencies",
    methods=("POST",),
    summary="Move a resident into a unit (creating the account if new)",
    tag="residents",
    body=RESIDENT_BODY,
    responses={"201": {"description": "Residency"}},
)
@api_roles(*MANAGER_ROLES)
def create_residency():
    """Move in; a new login needs a password and a name."""
    data = json_body()
    site_id = _site_id()
    unit = queries.unit_in_site(data.get("unit_id"), site_id)
    errors = {}
    if unit is None:
        errors["unit_id"] = ("invalid_unit", N_("No such unit in this community."))
    if data.get("relation") not in RELATIONS:
        errors["relation"] = ("invalid_relation", N_("Relation must be owner, tenant or family."))
    try:
        starts = parse_iso(data["starts_at"]) if data.get("starts_at") else None
    except (ValueError, TypeError):
        errors["starts_at"] = ("invalid_datetime", N_("Give a date and time with its offset, e.g. 2026-12-01T09:00:00+08:00."))
    login = data.get("login")
    if not isinstance(login, str) or not 3 <= len(login.strip()) <= 64:
        errors["login"] = ("invalid_login", N_("A login of 3 to 64 characters is needed."))
    if errors:
        raise ValidationFailed(errors)
    user = queries.user_by_login(login)
    if user is not None and not queries.lives_in_site(user.id, site_id):
        # Never link (or reveal) an account of another community: the login is simply taken.
        raise ValidationFailed({"login": ("login_taken", N_("That login is not available."))})
    new_account = user is None
    if new_account:
        try:
            name = v.person_name(data.get("name"))
            phone = v.phone(data.get("phone"))
            if data.get("password") or not phone:
                user = create_user(login, data.get("password") or "", "resident", name, phone=phone)
            else:  # no password: the resident sets one through the activation link sent by SMS
                user = User(login=login.strip().lower(), display_name=name, role="resident", password_hash=UNUSABLE_PASSWORD)
                user.phone = phone
                db.session.add(user)
                db.session.flush()
                record("user.create", "user", user.id, site_id=site_id, role="resident")
        except v.FieldError as exc:
            raise ValidationFailed({"resident": exc.as_tuple()}) from None
    elif user.role != "resident":
        raise ValidationFailed({"login": ("not_resident", N_("That account is not a resident."))})
    r = move_in(user, unit, data["relation"], starts_at=starts)
    if new_account and user.password_hash == UNUSABLE_PASSWORD:
        for hook in ON_RESIDENTS_IMPORTED:  # the activation SMS, as for the roll import
            hook(unit.building.site, [user.id])
    return jsonify(residency_json(r)), 201


@api_route(
    "/residencies/<int:residency_id>/end",
    methods=("POST",),
    tag="residents",
    summary="Move a resident out: every pass they issued for the unit is revoked at once",
)
@api_roles(*MANAGER_ROLES)
def end_residency(residency_id):
    """Move out now."""
    r = queries.residency_in_site(residency_id, _site_id())
    if r is None:
        raise Refused("not_found", "No such resident in this community.", kind="not_found")
    revoked = move_out(r)
    return jsonify(residency_json(r) | {"revoked_passes": [p.id for p in revoked]})


def _flag(name):
    return (request.args.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


def import_site(slug, user):
    """The site a manager imports into: their own; an admin's any; another community's does not exist (404)."""
    site = queries.managed_site(user, slug)
    if site is None:
        raise Refused("not_found", "No such site.", kind="not_found")
    return site


def uploaded_roll():
    """The roll's bytes from a multipart field `file` or a text/csv body, at most roll.MAX_BYTES."""
    if (request.content_length or 0) > roll.MAX_BYTES + 64 * 1024:
        raise Refused("too_large", N_("The roll is too large: at most 2 MB and 20,000 rows."), kind="too_large")
    if request.mimetype == "multipart/form-data":
        f = request.files.get("file")
        if f is None:
            raise ValidationFailed({"file": ("required", N_("Choose a CSV file."))})
        return f.read(roll.MAX_BYTES + 1)
    return request.get_data(cache=False)[: roll.MAX_BYTES + 1]


IMPORT_PARAMS = [
    {"name": n, "in": "query", "required": False, "schema": {"type": "integer", "enum": [0, 1]}, "description": d}
    for n, d in (
        ("dry_run", "1: plan only, write nothing; the answer adds `rows`"),
        ("skip_errors", "1: apply the good rows even when others are in error"),
        ("create_places", "1: create buildings and units the file names that do not exist"),
    )
]


@api_route(
    "/sites/<slug>/residents/import",
    methods=("POST",),
    summary="Import the residents' roll (CSV: building,unit,name,phone,relation,move_in); idempotent",
    tag="residents",
    params=IMPORT_PARAMS,
    responses={
        "200": {
            "description": (
                '{"created", "updated", "unchanged", "errors": [{"row", "field", "message": {"en", "zh"}}], '
                '"applied"; dry runs add "rows"}'
            )
        },
        "403": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
        "413": {"$ref": "#/components/responses/Error"},
    },
)
@api_roles(*MANAGER_ROLES)
def import_residents(slug):
    """Plan the roll row by row; apply it unless it is a dry run or errors remain (without skip_errors)."""
    user = api_user()
    site = import_site(slug, user)
    text = roll.decode(uploaded_roll())
    plan = roll.plan(site, text, create_places=_flag("create_places"))
    return jsonify(import_roll(plan, skip_errors=_flag("skip_errors"), dry_run=_flag("dry_run")))


PATHS["/api/v1/sites/{slug}/residents/import"]["post"]["requestBody"] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}
        },
        "text/csv": {"schema": {"type": "string"}},
    },
}


from portal.sites import api_console  # noqa: E402, F401  (places and settings: their routes join this blueprint)
