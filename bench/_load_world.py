"""The community bench/load_faults.py loads: buildings with a resident each, gate readers, MQTT doors, passes.

Doors are spread over the buildings, and a door tied to a building holds only the passes of that
building's units (docs/bridge.md, "Desired state"): each pass goes to DOORS / BUILDINGS doors.
"""

import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from bench import _gate_seed as seed
from bench._database import mqtt_doors
from portal.app import create_app
from portal.config import TestConfig
from portal.extensions import db

KEYS = {"SECRET_KEY": TestConfig.SECRET_KEY, "DATA_KEY": TestConfig.DATA_KEY}


@dataclass
class World:
    """What the load generator and the verdicts need to know of the seeded community."""

    site_id: int
    gate_tokens: list  # one device token per gate reader: events are counted per reader
    gate_device_ids: list
    residents: list  # (API token, building index) per building
    doors: int
    buildings: int
    prefix: str
    live: dict = field(default_factory=dict)  # pass id -> building index (seeded, unlimited, valid all day)
    expired: list = field(default_factory=list)


def make_app(url):
    """The portal app on the run's database, for seeding, signing QR texts and reading the verdicts."""
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 5}, **KEYS)


def build(app, mqtt_url, prefix, *, buildings, doors, readers, live_per_building, expired):
    """Create the schema and the community; returns the World."""
    from portal.accounts import bearer
    from portal.accounts.operations import create_user
    from portal.core.timeutil import utcnow
    from portal.devices.models import Device
    from portal.passes.operations import issue_pass
    from portal.sites import operations as places

    with app.test_request_context():
        db.create_all()
        site = places.create_site("lf", "Load and faults", timezone="Asia/Shanghai")
        gate = places.add_gate(site, "MAIN", "Main gate")
        units, residents = [], []
        for b in range(buildings):
            building = places.add_building(site, f"B{b}", f"B{b}", 1, 5)
            unit = places.add_unit(building, "101", 1)
            host = create_user(f"lf-res-{b}", "correct horse battery staple", "resident", f"Resident {b}")
            places.move_in(host, unit, "owner")
            units.append((building, unit, host))
        tokens, device_ids = [], []
        for r in range(readers):
            reader = Device(site_id=site.id, name=f"reader-{r}", kind="gate_reader", driver="simulator", gate_ids=[gate.id])
            db.session.add(reader)
            db.session.flush()
            tokens.append(bearer.issue_device_token(reader, name="bench")[0])
            device_ids.append(reader.id)
        db.session.add_all(mqtt_doors(site.id, mqtt_url, prefix, doors, lambda i: units[i % buildings][0].id))
        for b, (_, _unit, host) in enumerate(units):
            residents.append((bearer.issue_user_token(host)[0], b))
        world = World(site.id, tokens, device_ids, residents, doors, buildings, prefix)
        now = utcnow()
        for b, (_, unit, host) in enumerate(units):
            for _ in range(live_per_building):
                p = issue_pass(host, unit, seed.guest_values([1], now, valid_until=now + timedelta(days=1)))
                world.live[p.id] = b
        for i in range(expired):
            _, unit, host = units[i % buildings]
            values = seed.guest_values([1], now, valid_from=now - timedelta(hours=3), valid_until=now - timedelta(hours=1))
            world.expired.append(issue_pass(host, unit, values).id)
        db.session.commit()
        db.session.remove()
    return world


class Signer:
    """Signs QR texts for any pass id of the site, as a visitor's pass page would show them."""

    def __init__(self, app, site_id):
        from portal.passes import keys

        with app.app_context():
            self.kid, self.private = keys.signer(site_id)
            db.session.remove()
        self.site_id = site_id

    def qr(self, pass_id):
        """The QR text of pass_id for the current 30 s step (the claimed window covers today)."""
        from portal.passes import qrtext

        now = time.time()
        return qrtext.sign(self.private, self.kid, self.site_id, pass_id, now - 3600, now + 86400, qrtext.current_step(now))


def credentials_settled(app):
    """(rows settled, rows in all): device credential rows whose desired state is acknowledged.

    A row still wanted present for a revoked pass is not settled, even if acknowledged: its door has not been
    re-planned yet (a killed worker's doors wait for their lease to run out before another worker plans them).
    """
    from portal.bridge.models import DeviceCredential as DC
    from portal.passes.models import Pass

    with app.app_context():
        try:
            total = db.session.scalar(select(func.count()).select_from(DC)) or 0
            done = (
                db.session.scalar(
                    select(func.count()).select_from(DC).where(DC.status == "ok", DC.acked_version >= DC.desired_version)
                )
                or 0
            )
            stale = db.session.scalar(
                select(func.count())
                .select_from(DC)
                .join(Pass, Pass.id == DC.pass_id)
                .where(DC.desired == "present", Pass.status == "revoked")
            )
            done -= stale or 0
        finally:
            db.session.remove()
    return done, total


def wait_settled(app, timeout, expected_rows=0):
    """Wait until every credential row is acknowledged (and at least expected_rows exist); True if they were."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, total = credentials_settled(app)
        except Exception:  # the database may be restarting
            done, total = 0, 1
        if total >= expected_rows and done == total:
            return True
        time.sleep(0.5)
    return False
