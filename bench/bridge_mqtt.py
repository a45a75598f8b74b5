"""1,000 simulated esp-rfid door controllers on the local Mosquitto, driven by a real bridge worker.

Setup: a database (PostgreSQL in a private schema when DATABASE_URL points at it, otherwise a
SQLite file), 1,000 devices with the mqtt driver, the esp-rfid fake in multi-device mode
(tests/fakes/esp_rfid_device.py --count 1000, one process), and `flask --app wsgi bridge run`
as a separate process, woken by NOTIFY on PostgreSQL or polling on SQLite.
Each trial creates a pass (time to every device's add acknowledged) and then revokes it (time to
every device's delete acknowledged). A device's latency runs from just before the portal's commit
to the moment the worker recorded that device's acknowledgement (acked_at), so it includes the
wake-up, planning, MQTT round trip and the database write. Targets: revoke p99 <= 1 s,
create p99 <= 2 s. Writes bench/results/bridge_mqtt.json.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._database import database, mqtt_doors, pct  # noqa: E402

os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

from bench import _gate_seed as seed  # noqa: E402

DEVICES = int(os.environ.get("BRIDGE_BENCH_DEVICES", "1000"))
TRIALS = int(os.environ.get("BRIDGE_BENCH_TRIALS", "5"))
THREADS = int(os.environ.get("BRIDGE_BENCH_THREADS", "64"))
MQTT_URL = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
TARGETS = {"revoke": 1.0, "create": 2.0}
RESULTS = ROOT / "bench" / "results" / "bridge_mqtt.json"


def build(app, prefix):
    """A site, a host and DEVICES mqtt door controllers serving the whole site."""
    from portal.accounts.operations import create_user
    from portal.extensions import db
    from portal.sites import operations as places

    db.create_all()
    site = places.create_site("bench", "Bench")
    unit = places.add_unit(places.add_building(site, "A", "A", 1, 10), "101", 1)
    host = create_user("bench-host", "correct horse battery staple", "resident", "Host")
    places.move_in(host, unit, "owner")
    db.session.add_all(mqtt_doors(site.id, MQTT_URL, prefix, DEVICES))
    db.session.commit()
    return host, unit


def issue(app, host, unit):
    """Create a pass the way the portal does; returns (pass id, seconds since epoch just before commit)."""
    from portal.core.timeutil import utcnow
    from portal.extensions import db
    from portal.passes.operations import issue_pass

    now = utcnow()
    values = seed.guest_values(
        [1], now, visitor_name="V", valid_from=now - timedelta(minutes=1), valid_until=now + timedelta(hours=2)
    )
    with app.test_request_context():
        p = issue_pass(host, unit, values)
        t0 = time.time()
        db.session.commit()
    return p.id, t0


def revoke(app, pass_id):
    """Revoke through the operations layer; returns the time just before commit."""
    from portal.extensions import db
    from portal.passes.models import Pass
    from portal.passes.operations import revoke_pass

    with app.test_request_context():
        revoke_pass(db.session.get(Pass, pass_id), reason="bench")
        t0 = time.time()
        db.session.commit()
    return t0


def wait_acked(pass_id, desired, t0, timeout=15.0):
    """Per-device latencies (s) until every device acknowledged the pass's desired state."""
    from sqlalchemy import select

    from portal.bridge.models import DeviceCredential
    from portal.extensions import db

    deadline = time.monotonic() + timeout
    while True:
        acked = db.session.scalars(
            select(DeviceCredential.acked_at).where(
                DeviceCredential.key == f"V{pass_id}", DeviceCredential.desired == desired, DeviceCredential.status == "ok"
            )
        ).all()
        db.session.rollback()
        if len(acked) >= DEVICES or time.monotonic() > deadline:
            return [a.timestamp() - t0 for a in acked]
        time.sleep(0.01)


def wait_online(timeout=120.0):
    """Wait until the worker has reached every device once."""
    from sqlalchemy import func, select

    from portal.devices.models import Device
    from portal.extensions import db

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = db.session.scalar(select(func.count()).select_from(Device).where(Device.status == "online"))
        db.session.rollback()
        if n >= DEVICES:
            return True
        time.sleep(0.2)
    return False


def broker_up():
    """True when the broker accepts connections."""
    parts = urlsplit(MQTT_URL)
    try:
        with socket.create_connection((parts.hostname, parts.port or 1883), timeout=1):
            return True
    except OSError:
        return False


def main():
    """Run the trials, print the table and write the JSON."""
    if not broker_up():
        print(f"bridge_mqtt: no MQTT broker at {MQTT_URL}; start Mosquitto (see .ci/run)")
        return 1
    from portal.app import create_app
    from portal.config import TestConfig
    from portal.extensions import db

    tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    url, engine_opts, dialect, cleanup = database(tmp)
    prefix = f"bench/{uuid.uuid4().hex[:8]}"
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DATA_KEY=TestConfig.DATA_KEY,
        SECRET_KEY=TestConfig.SECRET_KEY,
        INSTANCE_PATH=str(tmp),
        PORTAL_ENV="production",
        LOG_LEVEL="WARNING",
    )
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=engine_opts)
    procs = []
    try:
        with app.app_context():
            host, unit = build(app, prefix)
            fake = str(ROOT / "tests" / "fakes" / "esp_rfid_device.py")
            fleet = subprocess.Popen(
                [
                    sys.executable,
                    fake,
                    "--url",
                    MQTT_URL,
                    "--prefix",
                    prefix,
                    "--count",
                    str(DEVICES),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(fleet)
            assert fleet.stdout.readline().strip() == "ready", "esp-rfid fleet did not start"
            started = time.monotonic()
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "flask",
                    "--app",
                    "wsgi",
                    "bridge",
                    "run",
                    "--threads",
                    str(THREADS),
                    "--poll",
                    "0.2",
                ],
                cwd=ROOT,
                env=env,
            )
            procs.append(worker)
            assert wait_online(), "the bridge did not reach every device"
            warmup = time.monotonic() - started
            figures = {"create": [], "revoke": []}
            last = {"create": [], "revoke": []}
            for _ in range(TRIALS):
                pass_id, t0 = issue(app, host, unit)
                lat = wait_acked(pass_id, "present", t0)
                assert len(lat) == DEVICES, f"only {len(lat)} of {DEVICES} devices acknowledged the add"
                figures["create"] += lat
                last["create"].append(max(lat))
                time.sleep(0.3)
                t0 = revoke(app, pass_id)
                lat = wait_acked(pass_id, "absent", t0)
                assert len(lat) == DEVICES, f"only {len(lat)} of {DEVICES} devices acknowledged the delete"
                figures["revoke"] += lat
                last["revoke"].append(max(lat))
                time.sleep(0.3)
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        cleanup()

    out = {
        "devices": DEVICES,
        "trials": TRIALS,
        "threads": THREADS,
        "database": dialect,
        "broker": MQTT_URL,
        "warmup_seconds": round(warmup, 2),
        "results": {},
    }
    print(f"\n{DEVICES} esp-rfid devices over MQTT, {TRIALS} trials, {dialect}; first contact with all took {warmup:.1f} s")
    print(f"{'operation':<10} {'p50 s':>8} {'p99 s':>8} {'max s':>8} {'last ack (worst trial) s':>26} {'target p99':>11}  ok")
    ok_all = True
    for op in ("revoke", "create"):
        lat = figures[op]
        row = {
            "p50": round(pct(lat, 50), 3),
            "p99": round(pct(lat, 99), 3),
            "max": round(max(lat), 3),
            "last_ack_per_trial": [round(x, 3) for x in last[op]],
            "target_p99": TARGETS[op],
            "samples": len(lat),
        }
        row["ok"] = row["p99"] <= TARGETS[op]
        ok_all &= row["ok"]
        out["results"][op] = row
        print(
            f"{op:<10} {row['p50']:>8.3f} {row['p99']:>8.3f} {row['max']:>8.3f} {max(last[op]):>26.3f} "
            f"{TARGETS[op]:>11.1f}  {'yes' if row['ok'] else 'NO'}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
