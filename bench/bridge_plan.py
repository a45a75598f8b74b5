"""The bridge's planning at deployment scale: a full plan, and incremental plans after a pass change or revocation.

Seeds SITES communities with DEVICES simulator door readers (5 gates a site; each reader serves one gate)
and PASSES live passes (each for one gate, so on a fifth of its site's readers) on PostgreSQL in a private
schema (SQLite file otherwise), bulk-inserted. Then, with a real `Worker` planning only (no pushes):
the first full plan (writes every credential row), a second full plan (nothing changed: the periodic
safety net), and CHANGES incremental plans after one pass is created and after one is revoked, each
through the portal's ORM so the outbox row is written by the flush hook as in production.
Scale with BRIDGE_PLAN_SCALE (default 1.0 = 200 sites, 5,000 devices, 200,000 passes, 1,000,000
credential rows; about 2.5 minutes on PostgreSQL here, 0.1 for a quick look). Writes bench/results/bridge_plan.json.
"""

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._database import database, pct  # noqa: E402

os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

SCALE = float(os.environ.get("BRIDGE_PLAN_SCALE", "1.0"))
SITES = max(2, round(200 * SCALE))
DEVICES = max(10, round(5000 * SCALE))
PASSES = max(100, round(200_000 * SCALE))
CHANGES = int(os.environ.get("BRIDGE_PLAN_CHANGES", "30"))
GATES_PER_SITE = 5
RESULTS = ROOT / "bench" / "results" / "bridge_plan.json"


def seed():
    """Sites, gates, one unit and host a site, devices and passes; returns {site id: (unit id, host id, gate ids)}."""
    from sqlalchemy import insert, select

    from portal.accounts.operations import create_user
    from portal.core.timeutil import utcnow
    from portal.devices.models import Device
    from portal.extensions import db
    from portal.passes.models import Pass
    from portal.sites.models import Building, Gate, Site, Unit

    db.create_all()
    host = create_user("bench-host", "correct horse battery staple", "resident", "Host")
    db.session.flush()
    now = utcnow()
    db.session.execute(insert(Site), [{"slug": f"s{i}", "name": f"Site {i}", "timezone": "Asia/Shanghai"} for i in range(SITES)])
    site_ids = list(db.session.scalars(select(Site.id).order_by(Site.id)))
    db.session.execute(
        insert(Building), [{"site_id": s, "code": "A", "name": "A", "lowest_floor": 1, "highest_floor": 10} for s in site_ids]
    )
    bldg = dict(db.session.execute(select(Building.site_id, Building.id)).tuples().all())
    db.session.execute(insert(Unit), [{"building_id": bldg[s], "number": "101", "floor": 1} for s in site_ids])
    unit = {b: u for u, b in db.session.execute(select(Unit.id, Unit.building_id)).tuples().all()}
    db.session.execute(
        insert(Gate), [{"site_id": s, "code": f"G{g}", "name": f"G{g}"} for s in site_ids for g in range(GATES_PER_SITE)]
    )
    gates: dict[int, list[int]] = {}
    for gid, sid in db.session.execute(select(Gate.id, Gate.site_id).order_by(Gate.id)).tuples():
        gates.setdefault(sid, []).append(gid)
    db.session.execute(
        insert(Device),
        [
            {
                "site_id": site_ids[i % SITES],
                "name": f"d{i}",
                "kind": "gate_reader",
                "driver": "simulator",
                "options": {},
                "gate_ids": [gates[site_ids[i % SITES]][(i // SITES) % GATES_PER_SITE]],
                "status": "online",
            }
            for i in range(DEVICES)
        ],
    )
    template = dict(
        host_id=host.id,
        kind="guest",
        visitor_name="Visitor",
        valid_from=now - timedelta(minutes=5),
        timezone="Asia/Shanghai",
        uses=0,
        floors=[],
        status="active",
        link_token="x",
        otp_secret="JBSWY3DPEHPK3PXP",
        otp_last_step=0,
        notify="none",
        version=1,
        created_at=now,
        updated_at=now,
    )
    batch = []
    for i in range(PASSES):
        s = site_ids[i % SITES]
        batch.append(
            dict(
                template,
                site_id=s,
                unit_id=unit[bldg[s]],
                gate_ids=[gates[s][i % GATES_PER_SITE]],
                valid_until=now + timedelta(days=30),
                link_hash=f"h{i}",
                keypad_no=f"{i % 10**8:08d}",
            )
        )
        if len(batch) == 5000:
            db.session.execute(insert(Pass), batch)
            batch = []
    if batch:
        db.session.execute(insert(Pass), batch)
    db.session.commit()
    return site_ids[0], unit[bldg[site_ids[0]]], host.id, gates[site_ids[0]][0]


def timed_plan(worker, full=False):
    """Seconds one planning step took (a full plan when asked), and the rows it wrote."""
    from portal.core.timeutil import utcnow
    from portal.extensions import db

    session = db.session
    session.info["bridge_quiet"] = True
    worker.force_plan = full
    t0 = time.perf_counter()
    if full:
        worker._claim(session, utcnow())
    worker._plan(session, utcnow())
    session.commit()
    took = time.perf_counter() - t0
    session.remove()
    return took


def main():
    from portal.app import create_app
    from portal.config import TestConfig

    tmp = Path(tempfile.mkdtemp(prefix="bridge-plan-"))
    url, engine_opts, dialect, drop = database(tmp)
    out = {"dialect": dialect, "sites": SITES, "devices": DEVICES, "passes": PASSES, "changes": CHANGES}
    try:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=engine_opts)
        with app.app_context():
            t0 = time.perf_counter()
            site_id, unit_id, host_id, gate_id = seed()
            out["seed_s"] = round(time.perf_counter() - t0, 1)
            print(f"seeded {SITES} sites, {DEVICES} devices, {PASSES} passes in {out['seed_s']} s", flush=True)
        measure(app, out, site_id, unit_id, host_id, gate_id)
    finally:
        drop()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


def measure(app, out, site_id, unit_id, host_id, gate_id):
    from sqlalchemy import func, select

    from access_bridge.worker import Worker
    from portal.bridge.models import DeviceCredential
    from portal.core.timeutil import utcnow
    from portal.extensions import db
    from portal.passes.models import Pass

    worker = Worker(app, threads=2, plan_every=3600)
    try:
        with app.app_context():
            out["full_plan_first_s"] = round(timed_plan(worker, full=True), 2)
            out["credential_rows"] = db.session.scalar(select(func.count()).select_from(DeviceCredential))
            print(f"first full plan {out['full_plan_first_s']} s, {out['credential_rows']} rows", flush=True)
            out["full_plan_steady_s"] = round(timed_plan(worker, full=True), 2)
            print(f"steady full plan {out['full_plan_steady_s']} s", flush=True)
            created, revoked = [], []
            for i in range(CHANGES):
                now = utcnow()
                p = Pass(
                    site_id=site_id, unit_id=unit_id, host_id=host_id, kind="guest", visitor_name="V", valid_from=now,
                    valid_until=now + timedelta(hours=2), timezone="Asia/Shanghai", gate_ids=[gate_id], floors=[],
                    link_hash=f"bench-{i}", link_token="x", otp_secret="JBSWY3DPEHPK3PXP", keypad_no=f"9{i:07d}",
                    notify="none",
                )  # fmt: skip
                db.session.add(p)
                db.session.commit()
                pass_id = p.id
                db.session.remove()
                created.append(timed_plan(worker))
                p = db.session.get(Pass, pass_id)
                p.status, p.revoked_at, p.version = "revoked", utcnow(), p.version + 1
                db.session.commit()
                db.session.remove()
                revoked.append(timed_plan(worker))
            for name, values in (("create", created), ("revoke", revoked)):
                out[f"incremental_{name}_p50_ms"] = round(statistics.median(values) * 1000, 1)
                out[f"incremental_{name}_p99_ms"] = round(pct(values, 99) * 1000, 1)
    finally:
        worker.close()
    out["load"] = os.getloadavg()


if __name__ == "__main__":
    main()
