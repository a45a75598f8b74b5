"""Edge QR verification throughput vs a bare Ed25519 verify loop, measured in the same run.

The edge path is EdgeDecider.decide() deciding from its local store (the portal's database is
out of the loop, as at an OSDP gate during an outage): token decoding, signature check, pass
lookup, window/gate/schedule/use checks and the journal row written to the store's SQLite file.
The bare loop is the same Ed25519 verify (libsodium via PyNaCl, as the edge uses) over the same tokens. Target: edge >= 70 %
of bare. The compact token (HMAC) and the online path (use consumed in the portal's database,
AccessEvent written) are measured for information. Writes bench/results/edge_verify.json.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

from access_bridge.edge import EdgeDecider, Link  # noqa: E402
from access_bridge.edge_store import EdgeStore  # noqa: E402
from bench import _gate_seed as seed  # noqa: E402
from portal.passes import compact, qrtext  # noqa: E402

PASSES = 200
# Short batches: on a busy machine some of them run undisturbed, and the best batch counts.
BATCH = 25
SECONDS = float(os.environ.get("EDGE_BENCH_SECONDS", "6.0"))
TARGET = 0.70


def build_world(app):
    """A site with a gate and PASSES unlimited passes; returns (gate id, passes)."""
    import portal.bridge.edge_models  # noqa: F401
    from portal.accounts.operations import create_user
    from portal.extensions import db
    from portal.passes.operations import issue_pass
    from portal.sites import operations as places

    db.create_all()
    site = places.create_site("bench", "Bench")
    unit = places.add_unit(places.add_building(site, "A", "A", 1, 10), "101", 1)
    gate = places.add_gate(site, "MAIN", "Main")
    host = create_user("bench-host", "correct horse battery staple", "resident", "Host")
    places.move_in(host, unit, "owner")
    values = seed.guest_values([1], visitor_name="V")
    with app.test_request_context():
        passes = [issue_pass(host, unit, dict(values)) for _ in range(PASSES)]
        db.session.commit()
    return gate.id, passes


def best_rates(fns, batches, seconds=SECONDS):
    """Ops per second of each fn over items: the best of many short interleaved batches.

    Interleaving gives every path the same machine state; the best batch is the one least
    disturbed by other processes, so the ratio stays meaningful on a busy machine.
    """
    best = {name: float("inf") for name in fns}
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        items = batches()
        for name, fn in fns.items():
            start = time.perf_counter()
            for item in items:
                fn(item)
            best[name] = min(best[name], (time.perf_counter() - start) / len(items))
    return {name: 1.0 / per_op for name, per_op in best.items()}


def main():
    """Set up, measure, print a table and write the JSON."""
    from portal.app import create_app
    from portal.config import TestConfig
    from portal.passes import codes, keys

    tmp = Path(tempfile.mkdtemp(prefix="edge-bench-"))
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp / 'portal.db'}", SERVER_NAME="bench.test")
    with app.app_context():
        gate_id, passes = build_world(app)
        now = time.time()
        texts = [codes.qr_text(p, now) for p in passes]
        compacts = [compact.make_compact(p, now)[0] for p in passes]
        public = keys.public_keys()

    link = Link()
    local = EdgeDecider(app, EdgeStore(tmp / "edge-local.db"), link=link)
    online = EdgeDecider(app, EdgeStore(tmp / "edge-online.db"))
    assert local.sync() and online.sync()
    link.down_until = float("inf")  # decide from the local store only, as during an outage
    assert local.decide("qr", texts[0], gate_id) == (True, "ok", passes[0].id)
    assert local.decide("card", compacts[0], gate_id)[0]
    assert online.decide("qr", texts[0], gate_id)[0]

    raws = [qrtext.decode_raw(t) for t in texts]
    head = qrtext.RAW_LEN - qrtext.SIG_LEN
    kid = int.from_bytes(raws[0][1:3], "big")
    pub = public[kid][1]
    pairs = [(r[:head], r[head:]) for r in raws]  # (signed bytes, signature)

    def bare(pair):
        pub.verify(*pair)

    def edge_full(text):
        if not local.decide("qr", text, gate_id)[0]:
            raise SystemExit("edge refused a valid token")

    def edge_compact(raw):
        local.decide("card", raw, gate_id)

    def edge_online(text):
        online.decide("qr", text, gate_id)

    cursor = {"at": 0}

    def rotate():
        cursor["at"] = (cursor["at"] + BATCH) % PASSES
        return range(cursor["at"], cursor["at"] + BATCH)

    full = best_rates(
        {"bare_ed25519": lambda i: bare(pairs[i % PASSES]), "edge_full_token": lambda i: edge_full(texts[i % PASSES])}, rotate
    )
    results = dict(full)
    results.update(best_rates({"edge_compact_token": lambda i: edge_compact(compacts[i % PASSES])}, rotate, 1.0))
    results.update(best_rates({"edge_online_full_token": lambda i: edge_online(texts[i % 10])}, lambda: range(10), 1.0))
    ratio = results["edge_full_token"] / results["bare_ed25519"]
    out = {
        "ops_per_second": {k: round(v, 1) for k, v in results.items()},
        "edge_vs_bare": round(ratio, 3),
        "target": TARGET,
        "passes": PASSES,
        "pass": ratio >= TARGET,
        "method": f"best of interleaved {BATCH}-op batches over {SECONDS:.0f} s",
        "python": sys.version.split()[0],
    }
    print(f"{'path':28} {'ops/s':>10} {'us/op':>8}")
    for name, value in results.items():
        print(f"{name:28} {value:10.0f} {1e6 / value:8.1f}")
    print(f"edge full token / bare Ed25519 = {ratio:.1%} (target >= {TARGET:.0%}) -> {'PASS' if ratio >= TARGET else 'FAIL'}")
    dest = ROOT / "bench" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "edge_verify.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))
    local.store.close()
    online.store.close()
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
