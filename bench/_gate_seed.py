"""Data for bench/gate_verify.py: a demo-like site with many live passes, and the bodies wrk sends."""

import contextlib
import os
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pyotp
from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import make_url

from portal.app import create_app
from portal.config import Config
from portal.extensions import db

LIVE_PASSES = 10_000  # the design point of the keypad arithmetic: 10,000 live passes on one site
QR_PASSES = 2_000
# Distinct texts a new-text scenario rotates through: more than 3 workers x 4,096 remembered ones.
NEW_TEXTS = 20_000
WATCHLIST = 50
_apps = {}


@dataclass
class World:
    """Handles the bench needs: the device token and the seeded passes."""

    token: str
    site_id: int
    passes: list = field(default_factory=list)  # (id, otp secret, keypad number)
    live_passes: int = 0


def app_for(url, keys):
    """One app per database URL in this process (for seeding and counting)."""
    if url not in _apps:
        _apps[url] = create_app(Config, SQLALCHEMY_DATABASE_URI=url, **keys)
    return _apps[url]


def guest_values(floors, now=None, **over):
    """issue_pass values for a guest pass valid from 5 min ago for 4 h, with no visitor details."""
    from portal.core.timeutil import utcnow

    now = now or utcnow()
    values = dict(
        visitor_name="访客",
        visitor_phone=None,
        visitor_id_number=None,
        plate=None,
        kind="guest",
        timezone="Asia/Shanghai",
        valid_from=now - timedelta(minutes=5),
        valid_until=now + timedelta(hours=4),
        schedule=None,
        max_entries=None,
        floors=floors,
        gate_ids=[],
        notify="none",
        company=None,
        work_area=None,
        note=None,
    )
    return values | over


def build(url, keys):
    """Create the schema and a site with LIVE_PASSES unlimited-use passes, a gate reader and a watchlist."""
    from portal.accounts import bearer
    from portal.accounts.operations import create_user
    from portal.core import crypto
    from portal.core.timeutil import utcnow
    from portal.devices.models import Device
    from portal.passes.models import Pass
    from portal.sites import operations as places
    from portal.watchlist.models import WatchlistEntry

    app = app_for(url, keys)
    with app.app_context():
        db.create_all()
        site = places.create_site("bench", "基准花园", timezone="Asia/Shanghai")
        building = places.add_building(site, "A", "A栋", 1, 30)
        units = [places.add_unit(building, f"{floor:02d}01", floor) for floor in range(1, 31)]
        gate = places.add_gate(site, "MAIN", "正门")
        host = create_user("bench-host", "correct horse battery staple", "resident", "住户")
        places.move_in(host, units[0], "owner")
        device = Device(
            site_id=site.id, name="Main gate reader", kind="gate_reader", driver="simulator", options={}, gate_ids=[gate.id]
        )
        db.session.add(device)
        db.session.flush()
        plain, _ = bearer.issue_device_token(device, name="bench")
        now = utcnow()
        numbers = random.sample(range(100_000), LIVE_PASSES)
        rows = []
        for i, number in enumerate(numbers):
            unit = units[i % len(units)]
            phone = f"+86138{i:08d}"
            link = secrets.token_urlsafe(24)
            rows.append(
                Pass(
                    site_id=site.id,
                    unit_id=unit.id,
                    host_id=host.id,
                    kind="guest",
                    visitor_name=f"访客{i}",
                    visitor_phone=phone,
                    visitor_phone_idx=crypto.blind_index("phone", phone),
                    valid_from=now - timedelta(hours=1),
                    valid_until=now + timedelta(days=2),
                    timezone="Asia/Shanghai",
                    max_entries=None,
                    floors=[unit.floor],
                    gate_ids=[],
                    link_hash=crypto.token_hash(link),
                    link_token=link,
                    otp_secret=pyotp.random_base32(32),
                    keypad_no=f"{number:05d}",
                    notify="none",
                )
            )
        db.session.add_all(rows)
        for i in range(WATCHLIST):
            db.session.add(
                WatchlistEntry(
                    site_id=site.id, kind="person", active=True, phone_idx=crypto.blind_index("phone", f"+86139{i:08d}")
                )
            )
        db.session.commit()
        world = World(plain, site.id, [(p.id, p.otp_secret, p.keypad_no) for p in rows], len(rows))
        db.session.remove()
    return world


def settle(url):
    """Let the seeding's writes land before anything is timed (they used to drain during the first scenario).

    PostgreSQL: VACUUM ANALYZE now rather than autovacuum mid-run, then a checkpoint. SQLite: the WAL
    checkpointed into the file (no ANALYZE: a deployment's SQLite has no statistics either). Then the
    kernel's dirty pages are written out.
    """
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("VACUUM ANALYZE"))
                conn.execute(text("CHECKPOINT"))
            else:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        engine.dispose()
    os.sync()
    time.sleep(1)


def qr_bodies(url, world, keys, passes=None):
    """Fresh QR texts (valid for this step and the next) for QR_PASSES passes, or for the given (id, …) rows."""
    from portal.passes import keys as site_keys
    from portal.passes import qrtext

    app = app_for(url, keys)
    with app.app_context():
        kid, private = site_keys.signer(world.site_id)
        now = time.time()
        step = qrtext.current_step(now)
        bodies = [
            {"qr": qrtext.sign(private, kid, world.site_id, pid, now - 3600, now + 86400, step)}
            for pid, _, _ in (world.passes[:QR_PASSES] if passes is None else passes)
        ]
        db.session.remove()
    return bodies


def new_qr_bodies(url, world, keys, count=NEW_TEXTS, offset=0):
    """count QR texts for the QR_PASSES passes that no worker has verified: each signs a window ending a second later.

    A worker remembers the last 4,096 texts it verified, so with this many in rotation every scan checks a
    signature, as the first scan of a pass, or of its code once the 30-s step moved, does. Pass offset to
    sign a set of its own (a later round).
    """
    from portal.passes import keys as site_keys
    from portal.passes import qrtext

    app = app_for(url, keys)
    passes = world.passes[:QR_PASSES]
    with app.app_context():
        kid, private = site_keys.signer(world.site_id)
        now = time.time()
        step = qrtext.current_step(now)
        until = now + 86400 + offset
        bodies = [
            {"qr": qrtext.sign(private, kid, world.site_id, passes[i % len(passes)][0], now - 3600, until + i, step)}
            for i in range(count)
        ]
        db.session.remove()
    return bodies


def code_bodies(url, world, keys):
    """The current keypad entry of every pass: each works once, in this step or the next."""
    at = int(time.time())
    bodies = [{"code": number + pyotp.TOTP(secret).at(at)} for _, secret, number in world.passes]
    random.shuffle(bodies)
    return bodies


def last_event_id(url, keys):
    """The newest access event id, to count outcomes of one scenario."""
    from portal.events.models import AccessEvent

    with app_for(url, keys).app_context():
        value = db.session.scalar(db.select(func.max(AccessEvent.id))) or 0
        db.session.remove()
    return value


def outcomes_since(url, keys, after_id, method=None):
    """Counts of reason codes recorded after an event id."""
    from portal.events.models import AccessEvent

    with app_for(url, keys).app_context():
        q = db.select(AccessEvent.reason, func.count()).where(AccessEvent.id > after_id).group_by(AccessEvent.reason)
        if method:
            q = q.where(AccessEvent.method == method)
        counts = dict(db.session.execute(q).all())
        db.session.remove()
    return counts


@contextlib.contextmanager
def pg_database(server_url):
    """A database of its own on the PostgreSQL server, dropped afterwards."""
    base = make_url(server_url.replace("postgres://", "postgresql://", 1)).set(drivername="postgresql+psycopg")
    name = f"bench_gate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        app = _apps.pop(url, None)
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
