"""1,000 simulated door controllers, barriers and lifts released for a fire and restored, through a real bridge worker.

Setup: a database (PostgreSQL in a private schema when DATABASE_URL points at it, otherwise a SQLite file),
DEVICES simulator devices of one site, and a bridge Worker running in this process (simulated devices live
in the worker's process), woken by NOTIFY on PostgreSQL or by polling on SQLite. Once the worker has
reached every device, each trial starts a fire (the operations layer, as the API does), waits until every
device acknowledged its release, then ends it and waits for every restore. A device's latency runs from
just before the commit that started (or ended) the emergency to the moment the worker recorded that
device's acknowledgement. Target: release p99 <= 2 s on PostgreSQL. Bounded: at most BENCH_SECONDS.
Writes bench/results/emergency_release.json.
"""

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

from bench.bridge_mqtt import database, pct  # noqa: E402

DEVICES = int(os.environ.get("EMERGENCY_BENCH_DEVICES", "1000"))
TRIALS = int(os.environ.get("EMERGENCY_BENCH_TRIALS", "3"))
THREADS = int(os.environ.get("EMERGENCY_BENCH_THREADS", "64"))
BENCH_SECONDS = 60
TARGET = 2.0
KINDS = ("door_controller", "barrier", "elevator_controller")
RESULTS = ROOT / "bench" / "results" / "emergency_release.json"


def build():
    """A site, a guard and DEVICES simulator devices."""
    from portal.accounts.operations import create_user
    from portal.devices.models import Device
    from portal.extensions import db
    from portal.sites import operations as places

    db.create_all()
    site = places.create_site("bench", "Bench")
    guard = create_user("bench-guard", "correct horse battery staple", "guard", "Guard", site=site)
    db.session.add_all(
        Device(site_id=site.id, name=f"dev-{i}", kind=KINDS[i % len(KINDS)], driver="simulator", options={})
        for i in range(DEVICES)
    )
    db.session.commit()
    return site, guard


def wait_states(emergency_id, state, t0, deadline):
    """Per-device latencies (s) until every device's row reached state (or the deadline passed)."""
    from sqlalchemy import select

    from portal.emergency.models import EmergencyDevice
    from portal.extensions import db

    column = EmergencyDevice.released_at if state == "released" else EmergencyDevice.restored_at
    while True:
        done = db.session.scalars(
            select(column).where(EmergencyDevice.emergency_id == emergency_id, EmergencyDevice.state == state)
        ).all()
        db.session.rollback()
        if len(done) >= DEVICES or time.monotonic() > deadline:
            return [d.timestamp() - t0 for d in done]
        time.sleep(0.01)


def wait_online(deadline):
    """True once the worker has reached every device."""
    from sqlalchemy import func, select

    from portal.devices.models import Device
    from portal.extensions import db

    while time.monotonic() < deadline:
        n = db.session.scalar(select(func.count()).select_from(Device).where(Device.status == "online"))
        db.session.rollback()
        if n >= DEVICES:
            return True
        time.sleep(0.1)
    return False


def trial(app, site, guard, deadline):
    """One fire: (release latencies, restore latencies)."""
    from portal.emergency import operations
    from portal.extensions import db

    with app.test_request_context():
        emergency = operations.start(db.session.merge(site), db.session.merge(guard), "fire", "bench")
        emergency_id = emergency.id
        t0 = time.time()
        db.session.commit()
    released = wait_states(emergency_id, "released", t0, deadline)
    with app.test_request_context():
        operations.end(db.session.merge(site), db.session.merge(guard))
        t1 = time.time()
        db.session.commit()
    restored = wait_states(emergency_id, "restored", t1, deadline)
    return released, restored


def main():
    """Run the trials, print the table and write the JSON."""
    from access_bridge.worker import Worker
    from portal.app import create_app
    from portal.config import TestConfig
    from portal.extensions import db

    started = time.monotonic()
    deadline = started + BENCH_SECONDS
    tmp = Path(tempfile.mkdtemp(prefix="emergency-bench-"))
    url, engine_opts, dialect, cleanup = database(tmp)
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=engine_opts, INSTANCE_PATH=str(tmp))
    stop = threading.Event()
    figures = {"release": [], "restore": []}
    worker_thread = None
    try:
        with app.app_context():
            site, guard = build()
            worker = Worker(app, threads=THREADS, poll=0.2)
            worker_thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
            worker_thread.start()
            assert wait_online(deadline), "the bridge did not reach every device in time"
            warmup = time.monotonic() - started
            for _ in range(TRIALS):
                released, restored = trial(app, site, guard, deadline)
                assert len(released) == DEVICES, f"only {len(released)} of {DEVICES} devices acknowledged the release"
                assert len(restored) == DEVICES, f"only {len(restored)} of {DEVICES} devices acknowledged the restore"
                figures["release"] += released
                figures["restore"] += restored
    finally:
        stop.set()
        if worker_thread is not None:
            worker_thread.join(30)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        cleanup()
    out = {
        "database": dialect,
        "devices": DEVICES,
        "trials": TRIALS,
        "threads": THREADS,
        "warmup_s": round(warmup, 2),
        "target_release_p99_s": TARGET,
    }
    for name, values in figures.items():
        out[name] = {
            "p50_s": round(pct(values, 50), 3),
            "p99_s": round(pct(values, 99), 3),
            "max_s": round(max(values), 3),
        }
    out["release_ok"] = out["release"]["p99_s"] <= TARGET
    print(json.dumps(out, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[dialect] = out
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")
    return 0 if out["release_ok"] or dialect != "postgresql" else 1


if __name__ == "__main__":
    sys.exit(main())
