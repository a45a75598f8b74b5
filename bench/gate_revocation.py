"""How long after its commit a revocation can still be granted, with the gate's workers under full load.

PostgreSQL only (on SQLite every decision reads the change counter, so the next scan already sees it).
Serves the seeded site with gunicorn as bench/gate_verify.py does and keeps wrk rescanning 2,000 passes
at 16 connections. Meanwhile, for each of REVOCATIONS other passes: scan it until every worker has it
cached, revoke it with plain SQL on a separate connection (as another worker or psql would), then scan it
over and over for a second. The figure per pass is the time from the revocation's commit to the last
scan that was still granted (0 if none was). Target: never above GATE_CACHE_STALE_MS (250 ms).
Prints the figures and writes bench/results/gate_revocation.json.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

import gate_verify as gv  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench import _gate_seed as seed  # noqa: E402

REVOCATIONS = int(os.environ.get("GATE_REVOCATIONS", "40"))
WATCH_SECONDS = 1.0
BOUND_MS = 250
RESULTS = ROOT / "bench" / "results" / "gate_revocation.json"


def scan(port, token, body):
    """One verify call; returns (decision, reason)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/gate/verify",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        data = json.load(resp)
    return data["decision"], data["reason"]


def one(port, token, engine, pass_id, body):
    """ms from the revocation's commit to the last grant seen after it (0.0 if none), and the scans made."""
    for _ in range(30):  # three workers: enough scans that each has read and kept the row
        assert scan(port, token, body) == ("grant", "ok")
    with engine.begin() as conn:
        conn.execute(text("UPDATE passes SET status = 'revoked' WHERE id = :id"), {"id": pass_id})
    committed = time.monotonic()
    last_grant, scans = None, 0
    while time.monotonic() - committed < WATCH_SECONDS:
        answer = scan(port, token, body)
        scans += 1
        if answer[0] == "grant":
            last_grant = time.monotonic()
        else:
            assert answer == ("deny", "revoked"), answer
    return (0.0 if last_grant is None else (last_grant - committed) * 1000), scans


def run(label, url, workdir):
    """Serve, load with wrk in the background, revoke REVOCATIONS passes one after the other."""
    world, port, proc = gv.serve_seeded(label, url, workdir)
    engine = create_engine(url)
    load = None
    try:
        bodies_file = workdir / "bodies.txt"
        bodies_file.write_text("\n".join(json.dumps(b) for b in seed.qr_bodies(url, world, gv.KEYS)) + "\n")
        script = workdir / "gate.lua"
        script.write_text(gv.LUA)
        seconds = int(REVOCATIONS * (WATCH_SECONDS + 1.5) + 10)
        env = os.environ | {"BENCH_BODIES": str(bodies_file), "BENCH_PATH": "/api/v1/gate/verify", "BENCH_TOKEN": world.token}
        load = subprocess.Popen(
            [
                "/usr/bin/wrk",
                "-t1",
                f"-c{gv.CONNECTIONS}",
                f"-d{seconds}s",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(2)
        targets = world.passes[seed.QR_PASSES : seed.QR_PASSES + REVOCATIONS]
        samples, scans = [], 0
        for row in targets:
            body = seed.qr_bodies(url, world, gv.KEYS, passes=[row])[0]  # signed for the current step
            ms, n = one(port, world.token, engine, row[0], body)
            samples.append(ms)
            scans += n
    finally:
        if load is not None:
            load.terminate()
            load.wait(timeout=15)
        engine.dispose()
        proc.terminate()
        proc.wait(timeout=15)
    samples.sort()
    return {
        "revocations": len(samples),
        "scans_after_commit": scans,
        "granted_after_commit": sum(1 for ms in samples if ms > 0),
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2),
        "max_ms": round(samples[-1], 2),
        "bound_ms": BOUND_MS,
        "within_bound": samples[-1] <= BOUND_MS,
    }


def main():
    """PostgreSQL from DATABASE_URL; prints and saves the figures."""
    pg = os.environ.get("DATABASE_URL", "")
    if not pg.startswith(("postgres://", "postgresql")):
        print("gate_revocation measures PostgreSQL only: set DATABASE_URL to run it")
        return
    workdir = Path(tempfile.mkdtemp(prefix="gate-revocation-"))
    with seed.pg_database(pg) as url:
        figures = run("postgresql", url, workdir)
    print(
        f"revocations {figures['revocations']}, still granted after commit in {figures['granted_after_commit']}: "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms (bound {BOUND_MS} ms)"
    )
    report = {
        "benchmark": "gate_revocation",
        "connections": gv.CONNECTIONS,
        "server": "gunicorn " + " ".join(gv.GUNICORN),
        "load": "wrk rescanning 2,000 passes throughout",
        "results": figures,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(figures))
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
