"""Reads on the device registry and on what the bridge pushed to each device."""

from datetime import timedelta

from sqlalchemy import func, select

from portal.accounts.models import ApiToken
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.core.i18n import N_
from portal.core.timeutil import utcnow
from portal.devices import drivers
from portal.devices.models import Device, DeviceCommand
from portal.extensions import db
from portal.sites.models import Site

HIDDEN = ("removed",)


def devices(site_id=None, include_removed=False):
    """Devices of a site (or all), by site and name."""
    q = select(Device).order_by(Device.site_id, Device.name)
    if site_id is not None:
        q = q.where(Device.site_id == site_id)
    if not include_removed:
        q = q.where(Device.status.not_in(HIDDEN))
    return list(db.session.scalars(q))


def device_by_name(site_slug, name):
    """A device named at a site (by the site's slug), or None."""
    return db.session.scalar(
        select(Device)
        .join(Site, Site.id == Device.site_id)
        .where(Site.slug == site_slug, Device.name == name, Device.status.not_in(HIDDEN))
    )


def credential_counts(device_ids):
    """device id -> {"ok", "pending", "failed"} counts of credentials meant to be on it or off it."""
    out = {i: {"ok": 0, "pending": 0, "failed": 0} for i in device_ids}
    if not device_ids:
        return out
    rows = db.session.execute(
        select(DeviceCredential.device_id, DeviceCredential.status, func.count())
        .where(DeviceCredential.device_id.in_(device_ids))
        .group_by(DeviceCredential.device_id, DeviceCredential.status)
    )
    for device_id, status, n in rows:
        out[device_id][status] = n
    return out


def sync_state(device, counts):
    """One word for the desk: failed, offline, pending or online."""
    if device.status == "failed" or counts["failed"]:
        return "failed"
    if device.status in ("offline", "removing"):
        return device.status
    if device.status == "pending" or counts["pending"]:
        return "pending"
    return "online"


def summaries(site_id=None):
    """Each device with its status, last contact and credential counts (for `bridge status` and the desk)."""
    rows = devices(site_id)
    counts = credential_counts([d.id for d in rows])
    bridge = (
        {b.device_id: b for b in db.session.scalars(select(BridgeDevice).where(BridgeDevice.device_id.in_([d.id for d in rows])))}
        if rows
        else {}
    )
    sites = {s.id: s.slug for s in db.session.scalars(select(Site))}
    out = []
    for d in rows:
        c = counts[d.id]
        b = bridge.get(d.id)
        out.append(
            {
                "id": d.id,
                "site": sites.get(d.site_id),
                "name": d.name,
                "name_en": d.name_en,
                "kind": d.kind,
                "driver": d.driver,
                "status": d.status,
                "sync": sync_state(d, c),
                "credentials": c,
                "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
                "last_error": b.last_error if b else None,
                "worker": b.lease_owner if b else None,
                "gate_ids": d.gate_ids,
                "doors": d.doors,
                "floors": d.floors,
                "building_id": d.building_id,
            }
        )
    return out


def credentials_on(device_id, status=None):
    """The per-key push state of one device (what it holds, what failed and why)."""
    q = select(DeviceCredential).where(DeviceCredential.device_id == device_id).order_by(DeviceCredential.key)
    if status is not None:
        q = q.where(DeviceCredential.status == status)
    return list(db.session.scalars(q))


def live_tokens(device):
    """Tokens of a device that still work, newest first."""
    now = utcnow()
    q = (
        db.select(ApiToken)
        .where(ApiToken.device_id == device.id, ApiToken.kind == "device", ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id.desc())
    )
    return [t for t in db.session.scalars(q) if t.expires_at is None or t.expires_at > now]


def all_tokens(device):
    """Every token a device ever had, newest first (for the manager's list)."""
    q = db.select(ApiToken).where(ApiToken.device_id == device.id, ApiToken.kind == "device").order_by(ApiToken.id.desc())
    return list(db.session.scalars(q))


#: How long a connection test may stay unanswered before the page says no bridge is running.
CHECK_WAIT = timedelta(seconds=20)
#: What each outcome of a connection test tells the manager (msgids; pages and the API translate them).
CHECK_MESSAGES = {
    "queued": N_("Waiting for the access bridge to test the device…"),
    "ok": N_("The device answered: the connection works."),
    "auth_failed": N_(
        "The device refused our credentials (the user name and password, or the OSDP secure channel key). "
        "Correct them and save, then test again."
    ),
    "unreachable": N_("The device did not answer: check its address, port and network."),
    "error": N_("The test could not be run; the details say why."),
    "timeout": N_("No answer from the access bridge within %(seconds)s seconds. Is the bridge running?"),
}


def check_state(device, check_id, now=None):
    """A connection test's outcome: status (a CHECK_MESSAGES key), the bridge's detail, times; None if not this device's."""
    cmd = db.session.get(DeviceCommand, check_id) if 0 < check_id < 2**31 else None
    if cmd is None or cmd.device_id != device.id or cmd.kind != drivers.HEALTH:
        return None
    now = now or utcnow()
    detail = None
    if cmd.status == "done":
        status = "ok"
    elif cmd.status == "queued":
        status = "timeout" if now - cmd.created_at > CHECK_WAIT else "queued"
    else:
        code, _sep, rest = (cmd.error or "").partition(": ")
        status, detail = (code, rest) if code in drivers.HEALTH_FAILURES else ("error", cmd.error)
        if cmd.error and cmd.error.startswith("expired before"):
            status = "timeout"
    return {
        "id": cmd.id,
        "status": status,
        "detail": detail,
        "requested_at": cmd.created_at.isoformat(),
        "done_at": cmd.done_at.isoformat() if cmd.done_at else None,
        "seconds": int(CHECK_WAIT.total_seconds()),
    }
