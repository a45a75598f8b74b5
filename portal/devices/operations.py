"""Writes on the device registry: add, remove (wipe first), resync, retry, device API tokens. Callers commit."""

from datetime import timedelta

from sqlalchemy import select, update

from portal.accounts import bearer
from portal.accounts.models import ApiToken
from portal.audit.operations import record
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.core import validators as v
from portal.core import wake
from portal.core.errors import Refused, invalid_field
from portal.core.timeutil import utcnow
from portal.devices import driver_options, drivers, queries
from portal.devices.models import KINDS, Device, DeviceCommand
from portal.extensions import db
from portal.sites.models import Building, Gate

# Option keys that say what a device serves; they become columns, the rest stays driver options.
SERVING_KEYS = ("gates", "doors", "floors", "building")


def _invalid(field, msgid, **params):
    return invalid_field(field, "invalid", msgid, **params)


def _wake():
    wake.request(db.session)


def _numbers(values):
    """Whole numbers from a list; anything else raises (a string would be read digit by digit: "12" as 1 and 2)."""
    if not isinstance(values, list) or any(isinstance(x, bool) or not isinstance(x, int | str) for x in values):
        raise TypeError(values)
    return [int(x) for x in values]


def split_options(site, options):
    """Separate serving keys (gate codes, doors, floors, building code) from the driver's own options."""
    options = dict(options or {})
    serving = {k: options.pop(k) for k in SERVING_KEYS if k in options}
    # A string here would otherwise be read letter by letter.
    if not isinstance(serving.get("gates") or [], list):
        raise _invalid("gates", 'Gates must be a list of gate codes, for example ["MAIN"].')
    gate_ids = []
    for ref in serving.get("gates") or []:
        match = Gate.id == ref if isinstance(ref, int) else Gate.code == str(ref)
        gate = db.session.scalar(select(Gate).where(Gate.site_id == site.id, match))
        if gate is None:
            raise _invalid("gates", "Unknown gate %(ref)s at this site.", ref=str(ref))
        gate_ids.append(gate.id)
    building_id = None
    if serving.get("building") is not None:
        building = db.session.scalar(
            select(Building).where(Building.site_id == site.id, Building.code == str(serving["building"]))
        )
        if building is None:
            raise _invalid("building", "Unknown building %(ref)s at this site.", ref=str(serving["building"]))
        building_id = building.id
    try:
        doors = _numbers(serving.get("doors") or [])
        floors = _numbers(serving.get("floors") or [])
    except (TypeError, ValueError):
        raise _invalid("options", "Doors and floors must be lists of numbers.") from None
    return options, dict(gate_ids=sorted(set(gate_ids)), doors=doors, floors=floors, building_id=building_id)


def checked_options(driver, options, stored=None):
    """Driver options checked and typed against the driver's declaration (options it does not declare pass)."""
    spec = drivers.SPECS.get(driver)
    return driver_options.clean(spec.options, options, stored, strict=False) if spec is not None else options


def add_device(site, name, kind, driver, options=None):
    """Register a device; with no gates, doors, floors or building in options it serves the whole site."""
    known = drivers.available()
    if kind not in KINDS:
        raise _invalid("kind", "Kind must be one of %(kinds)s.", kinds=", ".join(KINDS))
    if driver not in known:
        raise _invalid("driver", "Unknown driver %(driver)s; known: %(known)s.", driver=driver, known=", ".join(known))
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise _invalid("name", "A name of 1 to 80 characters is required.")
    if db.session.scalar(select(Device.id).where(Device.site_id == site.id, Device.name == name)) is not None:
        raise Refused("exists", "A device with this name already exists at this site.", kind="conflict")
    driver_options, serving = split_options(site, options)
    driver_options = checked_options(driver, driver_options)
    device = Device(site_id=site.id, name=name, kind=kind, driver=driver, options=driver_options, status="pending", **serving)
    db.session.add(device)
    db.session.flush()
    # Option values may be secrets: the audit keeps only their names.
    record(
        "device.add",
        "device",
        device.id,
        site_id=site.id,
        name=name,
        kind=kind,
        driver=driver,
        option_keys=sorted(driver_options),
        **{k: v for k, v in serving.items() if v},
    )
    _wake()
    return device


def remove_device(device):
    """Mark a device for wipe: the bridge deletes every credential on it, then marks it removed."""
    if device.status in ("removing", "removed"):
        return device
    now = utcnow()
    old_name = device.name
    device.status = "removing"
    # Free the name at once so a replacement can be added under it.
    device.name = f"{old_name[:56]} (removed #{device.id})"
    db.session.execute(
        update(ApiToken).where(ApiToken.device_id == device.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    db.session.execute(
        update(DeviceCommand)
        .where(DeviceCommand.device_id == device.id, DeviceCommand.status == "queued")
        .values(status="failed", error="device removed", done_at=now)
    )
    record("device.remove", "device", device.id, site_id=device.site_id, name=old_name)
    _wake()
    return device


def resync_device(device):
    """Forget what the device acknowledged: push everything again and delete strays it can list."""
    now = utcnow()
    db.session.execute(
        update(DeviceCredential)
        .where(DeviceCredential.device_id == device.id)
        .values(status="pending", acked_version=0, acked_state=None, attempts=0, last_error=None, next_attempt_at=now)
    )
    bd = db.session.get(BridgeDevice, device.id)
    if bd is None:
        db.session.add(BridgeDevice(device_id=device.id, audit_keys=True))
    else:
        bd.audit_keys, bd.next_attempt_at = True, None
    record("device.resync", "device", device.id, site_id=device.site_id, name=device.name)
    _wake()
    return device


def retry_failed(device, key=None):
    """Retry now what failed on a device (one key, or all)."""
    q = update(DeviceCredential).where(DeviceCredential.device_id == device.id, DeviceCredential.status == "failed")
    if key is not None:
        q = q.where(DeviceCredential.key == key)
    result = db.session.execute(q.values(status="pending", attempts=0, next_attempt_at=utcnow()))
    bd = db.session.get(BridgeDevice, device.id)
    if bd is not None:
        bd.next_attempt_at = None
    record("device.retry", "device", device.id, site_id=device.site_id, key=key, rows=result.rowcount)
    _wake()
    return result.rowcount


def issue_token(device, name=None, retire_others=False, grace_seconds=0):
    """A new token for a device; optionally retire its other tokens now or after a grace period.

    A grace period lets the installer reconfigure the reader before the old token stops working.
    """
    # A label like every other name: printable Unicode, no control or invisible characters.
    name = v.check("name", v.clean_text, name, max_len=80, required=False)
    old = queries.live_tokens(device) if retire_others else []
    plain, row = bearer.issue_device_token(device, name=name)
    now = utcnow()
    for t in old:
        if grace_seconds:
            until = now + timedelta(seconds=grace_seconds)
            t.expires_at = min(t.expires_at, until) if t.expires_at else until
        else:
            t.revoked_at = now
    record(
        "device.token.issue",
        "device",
        device.id,
        site_id=device.site_id,
        token_id=row.id,
        retired=[t.id for t in old],
        grace_seconds=grace_seconds,
    )
    return plain, row


def revoke_token(device, token_id):
    """Revoke one of a device's tokens now; refused as not found if it is not the device's."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.device_id != device.id or row.kind != "device":
        raise Refused("not_found", "No such token.", kind="not_found")
    if row.revoked_at is None:
        bearer.revoke(row)
        record("device.token.revoke", "device", device.id, site_id=device.site_id, token_id=row.id)
    return row


def request_check(device, user):
    """Ask the bridge to run the driver's health check now ("test connection"); the page then polls the command."""
    cmd = DeviceCommand(
        device_id=device.id, kind=drivers.HEALTH, reason="connection test", requested_by_id=user.id, status="queued"
    )
    db.session.add(cmd)
    db.session.flush()
    record("device.check", "device", device.id, site_id=device.site_id, command_id=cmd.id)
    _wake()
    return cmd
