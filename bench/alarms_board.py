"""50 alarms a second from devices to an open desk board: time from each alarm's commit to its frame on the stream.

Setup: a database (PostgreSQL in a private schema when DATABASE_URL points at it, otherwise a SQLite file),
one site with 50 simulator door controllers, the portal on a threaded server on 127.0.0.1 and one guard's
live board (`GET /api/v1/desk/stream`, server-sent events). A writer raises RATE alarms a second for
SECONDS seconds through the operations layer, one commit each, as the bridge does; each alarm's latency
runs from just before its commit to the moment its `event: alarm` frame was read from the stream.
Target: p99 <= 1 s. Bounded: at most BENCH_SECONDS. Writes bench/results/alarms_board.json.
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

RATE = int(os.environ.get("ALARMS_BENCH_RATE", "50"))
SECONDS = int(os.environ.get("ALARMS_BENCH_SECONDS", "10"))
BENCH_SECONDS = 60
TARGET = 1.0
KINDS = ("door_forced", "tamper", "duress", "fire_input", "power_loss")
RESULTS = ROOT / "bench" / "results" / "alarms_board.json"


def build(app):
    """A site, 50 door controllers and a guard's bearer token."""
    from portal.accounts import bearer
    from portal.accounts.operations import create_user
    from portal.devices.models import Device
    from portal.extensions import db
    from portal.sites import operations as places

    db.create_all()
    site = places.create_site("bench", "Bench")
    guard = create_user("bench-guard", "correct horse battery staple", "guard", "Guard", site=site)
    devices = [
        Device(site_id=site.id, name=f"door-{i}", kind="door_controller", driver="simulator", options={}) for i in range(50)
    ]
    db.session.add_all(devices)
    db.session.commit()
    with app.test_request_context():
        token, _ = bearer.issue_user_token(guard)
        db.session.commit()
    return [d.id for d in devices], token


def read_stream(url, token, seen, ready, stop):
    """Read the board's stream; note when each open alarm's frame arrived."""
    import requests

    with requests.get(url, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=(5, 30)) as resp:
        ready.set()
        event = None
        for line in resp.iter_lines(chunk_size=1, decode_unicode=True):
            if stop.is_set():
                return
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "alarm":
                item = json.loads(line[6:])
                if item["state"] == "open":
                    seen.setdefault(item["id"], time.time())
            elif not line:
                event = None


def write_alarms(app, device_ids, sent, deadline):
    """RATE alarms a second, one commit each; notes the time just before each commit."""
    from portal.alarms.operations import raise_alarm
    from portal.devices.models import Device
    from portal.extensions import db

    interval, n = 1.0 / RATE, 0
    start = time.monotonic()
    with app.app_context():
        devices = [db.session.get(Device, i) for i in device_ids]
        while n < RATE * SECONDS and time.monotonic() < deadline:
            wait = start + n * interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            # A door number of its own: a standing alarm of the same kind and door would only count a repeat.
            alarm = raise_alarm(devices[n % len(devices)], KINDS[n % len(KINDS)], door=n, source_key=f"bench-{n}")
            t0 = time.time()
            db.session.commit()
            sent[alarm.id] = t0
            n += 1
        db.session.remove()


def main():
    """Serve, open the board, write alarms, print and save the figures."""
    from werkzeug.serving import make_server

    from portal.app import create_app
    from portal.config import TestConfig
    from portal.extensions import db

    started = time.monotonic()
    deadline = started + BENCH_SECONDS
    tmp = Path(tempfile.mkdtemp(prefix="alarms-bench-"))
    url, engine_opts, dialect, cleanup = database(tmp)
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=engine_opts, INSTANCE_PATH=str(tmp))
    server = None
    stop, ready = threading.Event(), threading.Event()
    sent, seen = {}, {}
    try:
        with app.app_context():
            device_ids, token = build(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stream = f"http://127.0.0.1:{server.server_port}/api/v1/desk/stream"
        reader = threading.Thread(target=read_stream, args=(stream, token, seen, ready, stop), daemon=True)
        reader.start()
        assert ready.wait(10), "the board's stream did not open"
        time.sleep(0.5)  # the feed's listener is up
        write_alarms(app, device_ids, sent, deadline)
        settle = time.monotonic() + 3
        while len(set(sent) - set(seen)) and time.monotonic() < min(settle, deadline):
            time.sleep(0.05)
    finally:
        stop.set()
        if server is not None:
            server.shutdown()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        cleanup()
    latencies = [seen[i] - t0 for i, t0 in sent.items() if i in seen]
    out = {
        "database": dialect,
        "rate_per_s": RATE,
        "seconds": SECONDS,
        "alarms": len(sent),
        "arrived": len(latencies),
        "p50_s": round(pct(latencies, 50), 3),
        "p99_s": round(pct(latencies, 99), 3),
        "max_s": round(max(latencies), 3),
        "target_p99_s": TARGET,
    }
    out["ok"] = out["arrived"] == out["alarms"] and out["p99_s"] <= TARGET
    print(json.dumps(out, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[dialect] = out
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
