"""Helpers for the bridge tests: simulated devices, a one-shot bridge run, convergence checks."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from access_bridge.drivers import simulator
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.core.timeutil import utcnow
from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_simulators():
    """Simulated devices are keyed by device id, and ids restart with every test database."""
    simulator.reset()
    yield
    simulator.reset()


def add_device(world, name, kind="gate_reader", driver="simulator", **options):
    """A device registered through the operations layer, committed."""
    from portal.devices.operations import add_device as op

    device = op(world.site, name, kind, driver, options)
    db.session.commit()
    return device


def run_bridge(app, **kw):
    """One bridge run: push until nothing is due, then release the device leases."""
    from access_bridge.worker import Worker

    worker = Worker(app, threads=kw.pop("threads", 8), plan_every=0, **kw)
    try:
        worker.run_once()
    finally:
        worker.close()
    db.session.expire_all()
    return worker


def skip_backoff(device_id):
    """Pretend the backoff delay has passed for a device and its credentials."""
    db.session.execute(update(BridgeDevice).where(BridgeDevice.device_id == device_id).values(next_attempt_at=None))
    db.session.execute(
        update(DeviceCredential)
        .where(DeviceCredential.device_id == device_id, DeviceCredential.status != "ok")
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def rows(device_id):
    """key -> DeviceCredential of a device."""
    db.session.expire_all()
    return {r.key: r for r in db.session.scalars(select(DeviceCredential).where(DeviceCredential.device_id == device_id))}


def expected_keys(*passes):
    """The keys these passes have on a device."""
    return {f"V{p.id}" for p in passes}


def subprocess_env(db_url, instance):
    """Environment for a `flask --app wsgi …` child on the test's database with the test's data key."""
    from portal.config import TestConfig

    return dict(
        os.environ,
        DATABASE_URL=db_url,
        DATA_KEY=TestConfig.DATA_KEY,
        SECRET_KEY=TestConfig.SECRET_KEY,
        INSTANCE_PATH=str(instance),
        PORTAL_ENV="production",
        LOG_LEVEL="WARNING",
    )


def flask(*args, env, **kw):
    """Start `flask --app wsgi ARGS` as a child process."""
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, **kw)


class RunningBridge:
    """A bridge worker running in a thread (alarms arrive while it runs), stopped on exit."""

    def __init__(self, app, **kw):
        import threading

        from access_bridge.worker import Worker

        self.worker = Worker(app, threads=kw.pop("threads", 8), plan_every=kw.pop("plan_every", 0.5), poll=0.1, **kw)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.worker.run_forever, args=(self.stop,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.worker

    def __exit__(self, *exc):
        self.stop.set()
        self.worker.signal.set()
        self.thread.join(30)


def wait_until(check, timeout=10.0):
    """Poll check() against fresh rows until it is truthy; its last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        value = check()
        if value or time.monotonic() > deadline:
            db.session.rollback()
            return value
        time.sleep(0.05)
