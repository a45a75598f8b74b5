"""The gate's one select (token, pass, watchlist probes) against short and long watchlists.

Seeds the gate bench's site (10,000 live passes) once with 50 watchlist entries and once with
20,000, then times queries.device_and_pass() in process: the read every QR decision makes. A
watchlist probe is an index lookup per identity column, so the figures should not depend on the
list's length. SQLite always; PostgreSQL too when DATABASE_URL points at it. Writes
bench/results/gate_watchlist.json.
"""

import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

from bench import _gate_seed as seed  # noqa: E402
from bench.gate_verify import KEYS  # noqa: E402

SIZES = (50, 20_000)
READS = 2_000
RESULTS = ROOT / "bench" / "results" / "gate_watchlist.json"


def measure(url, size):
    """Best-of-three mean wall time of one gate read, in microseconds."""
    from portal.core import reads
    from portal.devices import api_tokens as device_tokens
    from portal.events import journal
    from portal.gate import queries

    seed.WATCHLIST = size
    world = seed.build(url, KEYS)
    app = seed.app_for(url, KEYS)
    ids = [p[0] for p in world.passes[:READS]]
    with app.test_request_context(headers={"Authorization": f"Bearer {world.token}"}):
        presented = device_tokens.bearer_hash()
        for pass_id in ids[:100]:
            queries.device_and_pass(presented, pass_id)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for pass_id in ids:
                queries.device_and_pass(presented, pass_id)
            best = min(best, (time.perf_counter() - started) / len(ids) * 1e6)
    journal.stop(app)
    reads.close(app)
    return round(best, 1)


def main():
    """Each database at each watchlist size; print and save."""
    databases = {"sqlite": lambda: contextlib.nullcontext(f"sqlite:///{tempfile.mkdtemp(prefix='gate-watch-')}/w.db")}
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")):
        databases["postgresql"] = lambda: seed.pg_database(os.environ["DATABASE_URL"])
    results = {}
    for label, make in databases.items():
        for size in SIZES:
            with make() as url:
                results.setdefault(label, {})[str(size)] = measure(url, size)
    print(f"{'database':<11} " + " ".join(f"{f'{s} listed':>14}" for s in SIZES) + "   (µs per gate read)")
    for label, row in results.items():
        print(f"{label:<11} " + " ".join(f"{row[str(s)]:>14.1f}" for s in SIZES))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps({"benchmark": "gate_watchlist", "reads": READS, "unit": "microseconds per read", "results": results}, indent=2)
        + "\n"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
