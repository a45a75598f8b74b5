"""Devices in the JSON API: managers add, edit, remove, retry and hand out API tokens; the desk reads push status."""

from flask import jsonify, request

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.accounts.queries import sees_every_site, site_scope
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.converters import is_id
from portal.core.errors import ApiError, ValidationFailed, bilingual
from portal.core.jsonbody import json_body
from portal.core.timeutil import utcnow
from portal.devices import changes, operations, queries
from portal.devices.models import KINDS, Device
from portal.extensions import db
from portal.sites.models import Site

VIEW_ROLES = STAFF_ROLES
MANAGE_ROLES = MANAGER_ROLES
CRED_STATUSES = ("ok", "pending", "failed")
MAX_GRACE_SECONDS = 7 * 24 * 3600
DEVICE_BODY = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 80},
        "kind": {"type": "string", "enum": list(KINDS)},
        "driver": {"type": "string", "example": "mqtt"},
        "options": {
            "type": "object",
            "description": "Driver options plus what the device serves: gates (codes), doors, floors, "
            'building (code). Secrets are write-only; "••• set" keeps a stored one.',
        },
        "site_id": {"type": "integer", "description": "Only for administrators of every site"},
    },
}
TOKEN_BODY = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 80},
        "retire_others": {"type": "boolean", "description": "Rotate: the device's other tokens stop working"},
        "grace_seconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_GRACE_SECONDS,
            "description": "With retire_others: how long the old tokens keep working",
        },
    },
}


def scope_site_id(user):
    """The site a staff user sees; None means every site (administrators without a site)."""
    return site_scope(user, request.args.get("site_id", type=int))


def visible_device(device_id):
    """A device of the caller's site, else 404 (another site's devices do not exist for them)."""
    user = api_user()
    device = db.session.get(Device, device_id) if 0 < device_id < 2**31 else None
    if device is None or device.status == "removed" or (not sees_every_site(user) and device.site_id != user.site_id):
        raise ApiError(404, "not_found", "No such device.")
    return device


def event_health(device_ids):
    """device id -> {"last_serial", "lost"} from the event cursors."""
    from portal.bridge.edge_models import DeviceEventCursor

    if not device_ids:
        return {}
    rows = db.session.scalars(db.select(DeviceEventCursor).where(DeviceEventCursor.device_id.in_(device_ids)))
    return {
        c.device_id: {
            "last_serial": c.last_serial,
            "lost": c.lost,
            "last_gap_at": c.last_gap_at.isoformat() if c.last_gap_at else None,
        }
        for c in rows
    }


def device_json(summary, device=None, health=None):
    """A device summary (from queries.summaries) plus masked options and event health."""
    out = dict(summary)
    if device is not None:
        out["options"] = changes.masked(device.options or {})
    out["events"] = health or {"last_serial": 0, "lost": 0, "last_gap_at": None}
    return out


def credential_json(c):
    """One credential's push state on a device."""
    return {
        "key": c.key,
        "pass_id": c.pass_id,
        "desired": c.desired,
        "status": c.status,
        "acked_state": c.acked_state,
        "last_error": c.last_error,
        "attempts": c.attempts,
        "next_attempt_at": c.next_attempt_at.isoformat() if c.next_attempt_at else None,
        "acked_at": c.acked_at.isoformat() if c.acked_at else None,
        "updated_at": c.updated_at.isoformat(),
    }


def one_device(device):
    """The full status of one device: summary, options (masked), credentials."""
    summary = next(s for s in queries.summaries(device.site_id) if s["id"] == device.id) if device.status != "removed" else {}
    status = request.args.get("status")
    if status is not None and status not in CRED_STATUSES:
        choices = {"choices": ", ".join(CRED_STATUSES)}
        raise ApiError(
            400,
            "invalid",
            "Some fields are invalid.",
            fields={"status": ("invalid", "Status must be one of %(choices)s.", choices)},
        )
    body = device_json(summary, device, event_health([device.id]).get(device.id))
    body["credential_list"] = [credential_json(c) for c in queries.credentials_on(device.id, status)]
    return body


@api_route(
    "/devices",
    summary="Devices of my community with their push status",
    tag="devices",
    params=[{"name": "site_id", "in": "query", "schema": {"type": "integer"}}],
)
@api_roles(*VIEW_ROLES)
def list_devices():
    """Every device of the caller's site with credential counts (ok, pending, failed)."""
    rows = queries.summaries(scope_site_id(api_user()))
    health = event_health([r["id"] for r in rows])
    return jsonify({"items": [device_json(r, health=health.get(r["id"])) for r in rows]})


@api_route(
    "/devices",
    methods=("POST",),
    summary="Add a device",
    tag="devices",
    body=DEVICE_BODY,
    responses={"201": {"description": "Created"}},
)
@api_roles(*MANAGE_ROLES)
def create_device():
    """Register a device; with no gates, doors, floors or building it serves the whole site."""
    data = json_body()
    user = api_user()
    wanted = data.get("site_id")
    site_id = site_scope(user, wanted if is_id(wanted) else None)
    site = db.session.get(Site, site_id) if site_id else None
    if site is None:
        raise ApiError(400, "invalid", "Some fields are invalid.", fields={"site_id": ("invalid", "Choose a community.")})
    fields = {k: data.get(k) for k in ("name", "kind", "driver")}
    for key in ("name", "kind"):
        if not isinstance(fields[key], str):
            raise ApiError(400, "invalid", "Some fields are invalid.", fields={key: ("required", "This field is required.")})
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise ApiError(
            400, "invalid", "Some fields are invalid.", fields={"options": ("invalid", "Options must be a JSON object.")}
        )
    driver = fields["driver"] if isinstance(fields["driver"], str) else "simulator"
    device = operations.add_device(site, fields["name"], fields["kind"], driver, options)
    return jsonify(one_device(device)), 201


@api_route(
    "/devices/<int:device_id>",
    summary="One device: what it holds, what is pending, what failed and why",
    tag="devices",
    params=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": list(CRED_STATUSES)}}],
)
@api_roles(*VIEW_ROLES)
def get_device(device_id):
    """Device status with its credentials."""
    return jsonify(one_device(visible_device(device_id)))


@api_route(
    "/devices/<int:device_id>",
    methods=("PATCH",),
    summary="Rename a device or change its options",
    tag="devices",
    body=DEVICE_BODY,
)
@api_roles(*MANAGE_ROLES)
def patch_device(device_id):
    """Name and options (serving keys included); kind and driver are fixed: remove and add instead."""
    device = visible_device(device_id)
    data = json_body()
    fixed = [k for k in ("kind", "driver", "site_id") if k in data and data[k] != getattr(device, k)]
    if fixed:
        raise ApiError(
            400,
            "invalid",
            "Some fields are invalid.",
            fields=dict.fromkeys(fixed, ("fixed", "This cannot be changed; remove the device and add it again.")),
        )
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise ApiError(
            400, "invalid", "Some fields are invalid.", fields={"name": ("invalid", "A name of 1 to 80 characters is required.")}
        )
    changes.update_device(device, name=name, options=data.get("options"))
    return jsonify(one_device(device))


@api_route(
    "/devices/<int:device_id>",
    methods=("DELETE",),
    summary="Remove a device (the bridge wipes it first)",
    tag="devices",
    responses={"202": {"description": "Removal under way"}},
)
@api_roles(*MANAGE_ROLES)
def delete_device(device_id):
    """Mark the device for wipe and removal."""
    device = visible_device(device_id)
    operations.remove_device(device)
    return jsonify({"id": device.id, "status": device.status}), 202


@api_route(
    "/devices/<int:device_id>/retry",
    methods=("POST",),
    summary="Retry failed credentials now",
    tag="devices",
    body={"type": "object", "properties": {"key": {"type": "string", "description": "One credential, e.g. V42"}}},
)
@api_roles(*MANAGE_ROLES)
def retry_device(device_id):
    """Reset the backoff of one failed credential or of every failed one on the device."""
    device = visible_device(device_id)
    data = json_body() if request.get_data() else {}
    key = data.get("key")
    if key is not None and not (isinstance(key, str) and 0 < len(key) <= 40):
        raise ApiError(400, "invalid", "Some fields are invalid.", fields={"key": ("invalid", "Give a credential key.")})
    return jsonify({"id": device.id, "retried": operations.retry_failed(device, key)})


def token_json(row):
    """What a manager sees of a token: never its value or hash."""

    def iso(v):
        return v.isoformat() if v else None

    now = utcnow()
    live = row.revoked_at is None and (row.expires_at is None or row.expires_at > now)
    return {
        "id": row.id,
        "name": row.name,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
        "last_used_at": iso(row.last_used_at),
        "live": live,
    }


def managed_device(device_id):
    """A device the calling manager or admin may manage; 404 for other communities' devices."""
    user = api_user()
    device = db.session.get(Device, device_id)
    mine = device is not None and (sees_every_site(user) or device.site_id == user.site_id)
    if not mine or device.status in ("removing", "removed"):
        raise ApiError(404, "not_found", "No such device.")
    return device


def _token_request():
    data = json_body() if request.get_data() else {}
    fields = {}
    name = data.get("name")
    if name is not None and not (isinstance(name, str) and 0 < len(name.strip()) <= 80):
        fields["name"] = ("invalid", "At most %(max)s characters.", {"max": 80})
    retire = data.get("retire_others", False)
    if not isinstance(retire, bool):
        fields["retire_others"] = ("invalid", "This field must be true or false.")
    grace = data.get("grace_seconds", 0)
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= MAX_GRACE_SECONDS:
        fields["grace_seconds"] = ("invalid", "A number of seconds from 0 to %(max)s.", {"max": MAX_GRACE_SECONDS})
    if fields:
        raise ValidationFailed(fields)
    return (name.strip() if name else None), retire, grace


@api_route(
    "/devices/<int:device_id>/tokens",
    methods=("POST",),
    summary="Issue or rotate a device token",
    tag="devices",
    body=TOKEN_BODY,
    responses={"201": {"description": "The new token, shown once"}},
)
@api_roles(*MANAGE_ROLES)
def device_token_issue(device_id):
    """A new token for a device; with retire_others the old ones stop (now or after grace_seconds)."""
    device = managed_device(device_id)
    name, retire, grace = _token_request()
    plain, row = operations.issue_token(device, name=name, retire_others=retire, grace_seconds=grace)
    body = token_json(row) | {"token": plain}
    return jsonify(body), 201


@api_route("/devices/<int:device_id>/tokens", methods=("GET",), summary="List a device's tokens", tag="devices")
@api_roles(*MANAGE_ROLES)
def device_token_list(device_id):
    """Every token of a device, without values."""
    device = managed_device(device_id)
    return jsonify({"items": [token_json(t) for t in queries.all_tokens(device)]})


@api_route(
    "/devices/<int:device_id>/tokens/<int:token_id>/revoke", methods=("POST",), summary="Revoke a device token", tag="devices"
)
@api_roles(*MANAGE_ROLES)
def device_token_revoke(device_id, token_id):
    """Stop one token at once."""
    device = managed_device(device_id)
    row = operations.revoke_token(device, token_id)
    return jsonify(token_json(row))


def check_json(state):
    """A connection test as the API and the page's poller see it: status, message in both languages, detail."""
    return state | {"message": bilingual(queries.CHECK_MESSAGES[state["status"]], seconds=state["seconds"])}


@api_route(
    "/devices/<int:device_id>/check",
    methods=("POST",),
    summary="Test the connection: the bridge runs the driver's health check",
    tag="devices",
    responses={"202": {"description": "Queued; poll the check"}},
)
@api_roles(*MANAGE_ROLES)
def device_check(device_id):
    """Queue a health check for the bridge; the portal never calls the device itself."""
    device = managed_device(device_id)
    cmd = operations.request_check(device, api_user())
    return jsonify(check_json(queries.check_state(device, cmd.id))), 202


@api_route(
    "/devices/<int:device_id>/checks/<int:check_id>",
    summary="A connection test's outcome (ok, auth_failed, unreachable, error, queued or timeout)",
    tag="devices",
)
@api_roles(*MANAGE_ROLES)
def device_check_state(device_id, check_id):
    """What the bridge answered, or that no bridge answered in time."""
    state = queries.check_state(managed_device(device_id), check_id)
    if state is None:
        raise ApiError(404, "not_found", "No such check.")
    return jsonify(check_json(state))
