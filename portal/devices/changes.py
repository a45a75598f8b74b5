"""Editing a device from the portal, and showing its driver options without their secrets."""

import re
from urllib.parse import urlsplit, urlunsplit

from portal.audit.operations import record
from portal.core import wake
from portal.core.errors import Refused, invalid_field
from portal.extensions import db

SET = "••• set"
# Option names that hold secrets (passwords, keys, tokens); their values are never shown again.
_SECRET_NAME = re.compile(r"pass|secret|key|token|scbk|auth|pin|cred", re.I)
SERVING_KEYS = ("gates", "doors", "floors", "building")


def _masked_url(value):
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if parts.password is None:
        return value
    netloc = f"{parts.username or ''}:{SET}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def masked(value, name=""):
    """A copy of driver options with every secret replaced by "••• set"."""
    if isinstance(value, dict):
        return {k: (SET if _SECRET_NAME.search(str(k)) and v not in (None, "") else masked(v, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, name) for v in value]
    if isinstance(value, str) and "://" in value:
        return _masked_url(value)
    return value


def merge_secrets(submitted, stored):
    """Submitted options where every "••• set" placeholder keeps the stored value."""
    if isinstance(submitted, dict):
        stored = stored if isinstance(stored, dict) else {}
        return {k: merge_secrets(v, stored.get(k)) for k, v in submitted.items()}
    if isinstance(submitted, list):
        stored = stored if isinstance(stored, list) else []
        return [merge_secrets(v, stored[i] if i < len(stored) else None) for i, v in enumerate(submitted)]
    if submitted == SET:
        return stored
    if isinstance(submitted, str) and SET in submitted and isinstance(stored, str):
        # A URL whose password was shown masked: put the stored password back.
        try:
            old = urlsplit(stored)
            return submitted.replace(SET, old.password or "", 1)
        except ValueError:
            return stored
    return submitted


def serving_options(device):
    """The serving part of a device as the options editor shows it (gate codes, doors, floors, building)."""
    from portal.sites.models import Building, Gate

    out = {}
    if device.gate_ids:
        codes = dict(db.session.execute(db.select(Gate.id, Gate.code).where(Gate.id.in_(device.gate_ids))).all())
        out["gates"] = [codes.get(g, g) for g in device.gate_ids]
    if device.doors:
        out["doors"] = list(device.doors)
    if device.floors:
        out["floors"] = list(device.floors)
    if device.building_id:
        b = db.session.get(Building, device.building_id)
        out["building"] = b.code if b else device.building_id
    return out


def update_device(device, name=None, options=None):
    """Rename a device and/or replace its options (serving keys included); secrets left as "••• set" are kept."""
    from portal.devices.operations import checked_options, split_options

    changed = []
    if name is not None:
        name = name.strip()
        if not name or len(name) > 80:
            raise invalid_field("name", "invalid", "A name of 1 to 80 characters is required.")
        from portal.devices.models import Device

        clash = db.session.scalar(
            db.select(Device.id).where(Device.site_id == device.site_id, Device.name == name, Device.id != device.id)
        )
        if clash is not None:
            raise Refused("exists", "A device with this name already exists at this site.", kind="conflict")
        if name != device.name:
            device.name = name
            changed.append("name")
    if options is not None:
        if not isinstance(options, dict):
            raise invalid_field("options", "invalid", "Options must be a JSON object.")
        full = merge_secrets(options, device.options or {})
        driver_options, serving = split_options(device.site, full)
        driver_options = checked_options(device.driver, driver_options, device.options or {})
        if driver_options != (device.options or {}):
            device.options = driver_options
            changed.append("options")
        for key, value in serving.items():
            if getattr(device, key) != value:
                setattr(device, key, value)
                changed.append(key)
    if changed:
        # Option values may be secrets: the audit names what changed, never the values.
        record(
            "device.update",
            "device",
            device.id,
            site_id=device.site_id,
            changed=sorted(set(changed)),
            option_keys=sorted(device.options or {}),
        )
        wake.request(db.session)
    return changed
