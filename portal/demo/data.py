"""Idempotent demo data: one community with people and simulated devices."""

import base64

from portal.accounts import bearer
from portal.accounts.models import ApiToken, Residency, User
from portal.accounts.operations import create_user
from portal.core import crypto
from portal.core.timeutil import utcnow
from portal.devices.models import Device
from portal.extensions import db
from portal.sites import operations as places
from portal.sites.models import Building, Gate, Site, Unit

RESIDENTS = [
    ("resident1", "Demo-Resident-1-pw", "张伟", "A", "1201", 12, "owner"),
    ("resident2", "Demo-Resident-2-pw", "Li Na", "B", "0502", 5, "tenant"),
]
STAFF = [
    ("guard", "Demo-Guard-pw-2026", "门岗 王师傅", "guard"),
    ("manager", "Demo-Manager-pw-2026", "Security Manager", "manager"),
]
# (key, name, English name, kind, what it serves); earlier demo databases named devices in English only.
DEVICES = [
    ("gate", "正门读头", "Main gate reader", "gate_reader", {"gates": ["MAIN"]}),
    ("door", "A栋门禁", "Building A door", "door_controller", {"doors": [1]}),
    ("elevator", "A栋电梯", "Building A lift", "elevator_controller", {"floors": list(range(1, 19))}),
    ("face", "大堂人脸终端", "Lobby face terminal", "face_terminal", {}),
]
BUILDINGS_EN = {"A": "Block A", "B": "Block B"}


def _one(model, **where):
    return db.session.scalar(db.select(model).filter_by(**where))


def _site():
    site = _one(Site, slug="demo")
    if site is None:
        site = places.create_site(
            "demo",
            "阳光花园",
            name_en="Sunshine Garden",
            timezone="Asia/Shanghai",
            directions="进正门后左转，A栋在喷泉旁，B栋在其后。",
            directions_en="Turn left after the main gate; block A is by the fountain, block B behind it.",
        )
        a = places.add_building(site, "A", "A栋", 1, 18)
        b = places.add_building(site, "B", "B栋", 1, 11)
        places.add_unit(a, "1201", 12)
        places.add_unit(b, "0502", 5)
        places.add_gate(site, "MAIN", "正门", name_en="Main gate")
        places.add_gate(site, "CAR", "车行道闸", kind="vehicle", name_en="Car barrier")
    return site


def _device(site, key, name, name_en, kind, serves):
    dev = _one(Device, site_id=site.id, name=name) or _one(Device, site_id=site.id, name=name_en)
    if dev is not None:
        dev.name, dev.name_en = name, name_en
    if dev is None:
        gate_ids = [g.id for g in site.gates if g.code in serves.get("gates", [])]
        building = _one(Building, site_id=site.id, code="A") if kind in ("door_controller", "elevator_controller") else None
        dev = Device(
            site_id=site.id,
            name=name,
            name_en=name_en,
            kind=kind,
            driver="simulator",
            options={},
            gate_ids=gate_ids,
            doors=serves.get("doors", []),
            floors=serves.get("floors", []),
            building_id=building.id if building else None,
        )
        db.session.add(dev)
        db.session.flush()
    plain = _kept_token(site, key)
    if plain is None:
        for old in db.session.scalars(
            db.select(ApiToken).where(ApiToken.device_id == dev.id, ApiToken.name == "demo", ApiToken.revoked_at.is_(None))
        ):
            old.revoked_at = utcnow()
        plain, _ = bearer.issue_device_token(dev, name="demo")
        _keep_token(site, key, plain)
    return {"id": dev.id, "name": name, "kind": kind, "token": plain}


def _kept_token(site, key):
    """The demo token printed last time, if it still works, so a second run prints the same one."""
    sealed = (site.settings or {}).get("demo_tokens", {}).get(key)
    if not sealed:
        return None
    plain = crypto.decrypt(base64.b64decode(sealed)).decode()
    return plain if bearer.lookup(plain, "device") is not None else None


def _keep_token(site, key, plain):
    settings = dict(site.settings or {})
    kept = dict(settings.get("demo_tokens", {}))
    kept[key] = base64.b64encode(crypto.encrypt(plain.encode())).decode()
    settings["demo_tokens"] = kept
    site.settings = settings


def load():
    """Create what is missing and return the logins, passwords and device tokens."""
    site = _site()
    out = {"site": site.slug, "residents": [], "devices": {}}
    for login, pw, name, bcode, unit_no, _floor, rel in RESIDENTS:
        user = _one(User, login=login) or create_user(login, pw, "resident", name)
        building = _one(Building, site_id=site.id, code=bcode)
        unit = _one(Unit, building_id=building.id, number=unit_no)
        if _one(Residency, user_id=user.id, unit_id=unit.id) is None:
            places.move_in(user, unit, rel)
        out["residents"].append({"login": login, "password": pw, "unit": unit.label, "unit_id": unit.id})
    for login, pw, name, role in STAFF:
        user = _one(User, login=login) or create_user(login, pw, role, name, site=site)
        out[role] = {"login": login, "password": pw, "totp_secret": user.totp_secret}
    for building in db.session.scalars(db.select(Building).where(Building.site_id == site.id)):
        building.name_en = building.name_en or BUILDINGS_EN.get(building.code)
    for key, name, name_en, kind, serves in DEVICES:
        out["devices"][key] = _device(site, key, name, name_en, kind, serves)
    out["gates"] = [{"id": g.id, "code": g.code} for g in db.session.scalars(db.select(Gate).where(Gate.site_id == site.id))]
    return out
