"""Desired state: which credential every live pass should have on every device.

(docs/bridge.md, "Desired state", lists the rules.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy.orm import load_only

from access_bridge.drivers.base import Capability, Credential
from portal.core import crypto
from portal.core.timeutil import utcnow
from portal.core.wake import PIN_SETTING
from portal.devices import drivers
from portal.passes.models import Pass
from portal.sites.models import Building, Site, Unit
from portal.vehicles.models import Vehicle

LIVE_STATES = ("active", "pending")
# A resident's car has no end date of its own; this is the last day ISAPI-era devices accept.
RESIDENT_UNTIL = datetime(2037, 12, 31, tzinfo=UTC)


def key_for(pass_id: int) -> str:
    """The stable key of a pass's credential on every device."""
    return f"V{pass_id}"


def vehicle_key(vehicle_id: int) -> str:
    """The stable key of a resident's registered car on every barrier."""
    return f"R{vehicle_id}"


def vehicle_id_of(key: str) -> int | None:
    """The vehicle id inside a resident car's key, or None."""
    if key.startswith("R") and key[1:].isdigit():
        return int(key[1:])
    return None


def pass_id_of(key: str) -> int | None:
    """The pass id inside one of our keys, or None for keys we did not create."""
    if key.startswith("V") and key[1:].isdigit():
        return int(key[1:])
    return None


def _round(r: int, half: int) -> int:
    return int(crypto.blind_index("card-feistel", f"{r}:{half}")[:4], 16)


@lru_cache(maxsize=1 << 18)  # a full plan at scale sees a few hundred thousand passes
def card_number(pass_id: int) -> str:
    """A 32-bit card number: a keyed permutation of the pass id, so unique and hard to guess.

    A 4-round Feistel network over two 16-bit halves is a bijection on 32-bit values, so two
    passes never share a number; 0 is skipped by cycle-walking, which keeps the bijection.
    """
    value = pass_id & 0xFFFFFFFF
    while True:
        left, right = value >> 16, value & 0xFFFF
        for r in range(4):
            left, right = right, left ^ _round(r, right)
        value = (left << 16) | right
        if value:
            return str(value)


def static_pin(p: Pass) -> str:
    """An 8-digit PIN derived from the pass's secret; only used where the site allows static PINs."""
    digest = hmac.new(p.otp_secret.encode(), b"device-static-pin", hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**8:08d}"


def _face_loader():
    try:
        from access_bridge.faces import face_jpeg_for_pass
    except ImportError:
        return None
    return face_jpeg_for_pass


def capabilities(device) -> Capability:
    """The capability flags a device's driver declares (none when the driver is unknown)."""
    return drivers.capabilities(device.driver)


# What a credential is made of: a full plan loads these of every live pass, not the visitor's encrypted data.
CREDENTIAL_COLUMNS = (
    Pass.id, Pass.site_id, Pass.unit_id, Pass.version, Pass.status, Pass.valid_from, Pass.valid_until, Pass.timezone,
    Pass.schedule, Pass.max_entries, Pass.uses, Pass.gate_ids, Pass.floors, Pass.plate,
)  # fmt: skip


def live_passes(session, site_ids, now=None, pass_ids=None, with_secret=True):
    """Live passes of these sites (or only these passes) with their unit's building id and floor.

    Without with_secret the pass's OTP secret (for static PINs) is left unloaded and undecrypted.
    """
    now = now or utcnow()
    if pass_ids is not None and not pass_ids:
        return []
    columns = CREDENTIAL_COLUMNS + ((Pass.otp_secret,) if with_secret else ())
    q = (
        session.query(Pass, Unit.building_id, Unit.floor)
        .options(load_only(*columns))
        .join(Unit, Unit.id == Pass.unit_id)
        .filter(Pass.site_id.in_(list(site_ids)), Pass.status != "revoked", Pass.valid_until > now)
    )
    if pass_ids is not None:
        q = q.filter(Pass.id.in_(list(pass_ids)))
    return [(p, b, f) for p, b, f in q if p.state(now) in LIVE_STATES]


def _serves(device, p, building_id, unit_floor, building_floors):
    """Floors for the credential (list, maybe empty), or None when the device does not serve the pass."""
    if device.gate_ids and p.gate_ids and not set(device.gate_ids) & set(p.gate_ids):
        return None
    if device.building_id is not None and device.building_id != building_id:
        return None
    if device.kind == "barrier" and not p.plate:
        return None
    if device.kind != "elevator_controller":
        return []
    wanted = p.floors or [unit_floor]
    served = device.floors or building_floors.get(building_id, [])
    floors = sorted(set(wanted) & set(served))
    return floors or None


def credential_for(device, p, floors, caps, site_settings, face=None) -> Credential | None:
    """The credential one pass should have on one device; None when nothing usable would be on it."""
    schedule = dict(p.schedule, timezone=p.timezone) if p.schedule else None
    cred = Credential(
        key=key_for(p.id),
        pass_id=p.id,
        version=p.version,
        name=f"Visitor {key_for(p.id)}",
        valid_from=p.valid_from,
        valid_until=p.valid_until,
        card_no=card_number(p.id) if Capability.CARD in caps else None,
        pin=static_pin(p) if Capability.PIN in caps and site_settings.get(PIN_SETTING) else None,
        face_jpeg=face if device.kind == "face_terminal" and Capability.FACE in caps else None,
        plate=p.plate if device.kind == "barrier" and Capability.PLATE in caps else None,
        floors=floors,
        doors=list(device.doors or []),
        schedule=schedule,
        max_uses=None if p.max_entries is None else max(p.max_entries - p.uses, 0),
    )
    if not (cred.card_no or cred.pin or cred.face_jpeg or cred.plate):
        return None
    return cred


def fingerprint(cred: Credential) -> str:
    """A hash of everything a device would store, so any change is pushed again."""
    face = hashlib.sha256(cred.face_jpeg).hexdigest() if cred.face_jpeg else ""
    schedule = json.dumps(cred.schedule, sort_keys=True) if cred.schedule else ""
    text = "|".join(
        str(x)
        for x in (
            cred.key,
            cred.pass_id,
            cred.version,
            cred.name,
            cred.valid_from.isoformat(),
            cred.valid_until.isoformat(),
            cred.card_no,
            cred.pin,
            face,
            cred.plate,
            cred.floors,
            cred.doors,
            schedule,
            cred.max_uses,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def live_vehicles(session, site_ids, vehicle_ids=None):
    """Residents' active (approved) cars of these sites, or only these, with their unit's building id."""
    q = (
        session.query(Vehicle, Unit.building_id)
        .join(Unit, Unit.id == Vehicle.unit_id)
        .filter(Vehicle.site_id.in_(list(site_ids)), Vehicle.status == "active")
    )
    if vehicle_ids is not None:
        q = q.filter(Vehicle.id.in_(list(vehicle_ids)))
    return q.all()


def vehicle_credential(device, car, building_id, caps) -> Credential | None:
    """A resident's plate on a barrier that reads plates; None for other devices or another building's barrier."""
    if device.kind != "barrier" or Capability.PLATE not in caps:
        return None
    if device.building_id is not None and device.building_id != building_id:
        return None
    return Credential(
        key=vehicle_key(car.id),
        pass_id=0,  # no pass: the row's pass_id stays empty
        version=1,
        name=f"Resident car {vehicle_key(car.id)}",
        valid_from=car.approved_at or car.created_at,
        valid_until=RESIDENT_UNTIL,
        plate=car.plate,
        doors=list(device.doors or []),
    )


def _add_vehicles(session, devices, site_ids, out, vehicle_ids):
    barriers = [d for d in devices if d.kind == "barrier" and Capability.PLATE in capabilities(d)]
    if not barriers or (vehicle_ids is not None and not vehicle_ids):
        return
    cars: dict[int, list] = {}
    for car, building_id in live_vehicles(session, site_ids, vehicle_ids):
        cars.setdefault(car.site_id, []).append((car, building_id))
    for device in barriers:
        caps = capabilities(device)
        for car, building_id in cars.get(device.site_id, ()):
            cred = vehicle_credential(device, car, building_id, caps)
            if cred is not None:
                out.setdefault(device.id, {})[cred.key] = cred


def desired_for_devices(session, devices, now=None, pass_ids=None, vehicle_ids=None) -> dict[int, dict[str, Credential]]:
    """device id -> {key: Credential} for every given device.

    With pass_ids only those passes are looked at, and residents' cars only when vehicle_ids names some;
    without, every live pass and every active resident's car.
    """
    now = now or utcnow()
    site_ids = {d.site_id for d in devices}
    if not site_ids:
        return {}
    settings = {s.id: s.settings or {} for s in session.query(Site).filter(Site.id.in_(site_ids))}
    pins = any(s.get(PIN_SETTING) for s in settings.values())
    passes: dict[int, list] = {}  # by site: a device only ever looks at its own site's passes
    for row in live_passes(session, site_ids, now, pass_ids, with_secret=pins):
        passes.setdefault(row[0].site_id, []).append(row)
    building_floors = {b.id: b.floor_range() for b in session.query(Building).filter(Building.site_id.in_(site_ids))}
    load_face = _face_loader() if any(d.kind == "face_terminal" for d in devices) else None
    faces: dict[int, bytes | None] = {}
    out: dict[int, dict[str, Credential]] = {}
    # Devices alike in everything a credential depends on (a site's row of door readers) share one table.
    tables: dict[tuple, dict[str, Credential]] = {}
    for device in devices:
        caps = capabilities(device)
        shape = (
            device.site_id,
            device.kind,
            caps,
            tuple(device.gate_ids or ()),
            device.building_id,
            tuple(device.floors or ()),
            tuple(device.doors or ()),
        )
        if shape in tables:
            out[device.id] = tables[shape]
            continue
        table = out[device.id] = tables[shape] = {}
        for p, building_id, unit_floor in passes.get(device.site_id, ()):
            floors = _serves(device, p, building_id, unit_floor, building_floors)
            if floors is None:
                continue
            face = None
            if device.kind == "face_terminal" and load_face is not None:
                if p.id not in faces:
                    faces[p.id] = load_face(session, p.id)
                face = faces[p.id]
            cred = credential_for(device, p, floors, caps, settings.get(p.site_id, {}), face)
            if cred is not None:
                table[cred.key] = cred
    for device in devices:
        if device.kind == "barrier":
            out[device.id] = dict(out[device.id])  # cars are added per barrier: no longer shared
    _add_vehicles(session, devices, site_ids, out, None if pass_ids is None else (vehicle_ids or set()))
    return out
