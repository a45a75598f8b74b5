"""Importing a 5,000-row residents' roll: dry run, real run and the same file again, on SQLite (and PostgreSQL).

Times portal.sites.roll.plan plus roll_import.import_roll (what the CLI, the API and the manager's page run),
each from a fresh session; PostgreSQL runs too when DATABASE_URL points there (in a private schema).
Then the list of residents who have not activated (5,000: the real run sends each an activation SMS) and
the roll's CSV export. Writes bench/results/residents_import.json. Target: each under 10 s.
"""

import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

from sqlalchemy import create_engine, text  # noqa: E402

from portal.app import create_app  # noqa: E402
from portal.config import TestConfig  # noqa: E402
from portal.extensions import db  # noqa: E402

ROWS = 5_000
BUILDINGS, FLOORS, PER_FLOOR = 10, 25, 4  # 1,000 units; each unit gets about five people


def roll_text():
    """A roll of ROWS rows over 1,000 units, with a BOM as Excel writes it."""
    lines = ["\ufeffbuilding,unit,name,phone,relation,move_in"]
    for i in range(ROWS):
        u = i // 5
        b, floor, door = u % BUILDINGS + 1, u // (BUILDINGS * PER_FLOOR) + 1, u % PER_FLOOR + 1
        relation = ("owner", "family", "family", "tenant", "family")[i % 5]
        lines.append(f"B{b},{floor}{door:02d},住户{i:05d},139{i:08d},{relation},2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}")
    return "\n".join(lines) + "\n"


def seed():
    """A site with its buildings and units."""
    from portal.sites import operations as places

    site = places.create_site("bench", "基准小区")
    for b in range(1, BUILDINGS + 1):
        building = places.add_building(site, f"B{b}", f"{b}号楼", 1, FLOORS)
        for floor in range(1, FLOORS + 1):
            for door in range(1, PER_FLOOR + 1):
                places.add_unit(building, f"{floor}{door:02d}", floor)
    db.session.commit()
    return site.slug


def run(app, slug, csv_text):
    """Seconds for a dry run, a real run and a second real run (all unchanged)."""
    from portal.sites import queries, roll
    from portal.sites.roll_import import import_roll

    times = {}
    for name, dry in (("dry_run", True), ("real", False), ("again", False)):
        with app.app_context():
            site = queries.site_by_slug(slug)
            start = time.perf_counter()
            result = import_roll(roll.plan(site, roll.decode(csv_text.encode("utf-8"))), dry_run=dry)
            db.session.commit()
            times[name] = round(time.perf_counter() - start, 2)
            assert not result["errors"], result["errors"][:3]
            expect = {"dry_run": ROWS, "real": ROWS, "again": 0}[name]
            assert result["created"] == expect, (name, result["created"])
            if name == "again":
                assert result["unchanged"] == ROWS
    with app.test_request_context():  # what managers read next: who has not activated, and the roll's export
        from types import SimpleNamespace

        from portal.residents import queries as people
        from portal.residents.export import roll_csv

        site = queries.site_by_slug(slug)
        start = time.perf_counter()
        waiting = people.residents(site, activated=False)
        times["not_activated"] = round(time.perf_counter() - start, 2)
        assert len(waiting) == ROWS
        start = time.perf_counter()
        text, masked = roll_csv(SimpleNamespace(role="admin", site_id=None, id=None), site)
        times["export"] = round(time.perf_counter() - start, 2)
        assert not masked and text.count("\n") == ROWS + 1
        db.session.rollback()
    return times


def one(url, engine_options=None):
    """Set up a database at url and time the three runs."""
    app = create_app(
        TestConfig, SQLALCHEMY_DATABASE_URI=url, SERVER_NAME="bench.local", SQLALCHEMY_ENGINE_OPTIONS=engine_options or {}
    )
    with app.app_context():
        db.create_all()
        slug = seed()
    times = run(app, slug, roll_text())
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return times


def main():
    """SQLite always; PostgreSQL when DATABASE_URL says so."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = one(f"sqlite:///{tmp}/bench.db")
    pg = os.environ.get("DATABASE_URL", "")
    if pg.startswith("postgres"):
        url = "postgresql+psycopg://" + pg.split("://", 1)[1]
        schema = f"b_{uuid.uuid4().hex[:10]}"
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            figures["postgresql"] = one(url, {"connect_args": {"options": f"-csearch_path={schema}"}})
        finally:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
    print(f"residents' roll of {ROWS:,} rows (seconds; target < 10)")
    print(f"{'database':<12}{'dry run':>10}{'real':>10}{'again':>10}{'waiting':>10}{'export':>10}")
    for name, t in figures.items():
        print(f"{name:<12}{t['dry_run']:>10}{t['real']:>10}{t['again']:>10}{t['not_activated']:>10}{t['export']:>10}")
    out = ROOT / "bench" / "results" / "residents_import.json"
    out.write_text(json.dumps({"rows": ROWS, "seconds": figures, "target_seconds": 10}, indent=2) + "\n")


if __name__ == "__main__":
    main()
