"""Plates and the watchlist: normalised plates, one car per lift, exact watchlist matches deny."""

from conftest import each_database
from gate_support import events, reason, verify

from portal.core import crypto
from portal.extensions import db
from portal.passes import codes
from portal.watchlist.models import WatchlistEntry

PHONE = "+8613812345678"
ID_NUMBER = "11010519491231002X"


def _listed(world, **values):
    entry = WatchlistEntry(site_id=world.site.id, kind="plate" if "plate" in values else "person", active=True, **values)
    db.session.add(entry)
    db.session.commit()
    return entry


def test_plate_is_normalised_and_one_car_per_lift(client, world):
    p = world.make_pass(plate="京A12345", max_entries=None, gate_ids=[world.car_gate.id])
    dev, barrier = world.device("barrier-1", kind="barrier", gates=[world.car_gate])
    status, data = verify(client, barrier, plate="京ａ １２３４５")
    assert (status, data["decision"], data["reason"], data["pass_id"]) == (200, "grant", "ok", p.id)
    # A barrier that reports no direction is an entry lane: a second car on the same plate waits for an exit.
    assert reason(client, barrier, plate="京a12345") == ("deny", "anti_passback")
    assert reason(client, barrier, plate="京A 12345", direction="out") == ("grant", "ok")
    assert reason(client, barrier, plate="京A12345", direction="in") == ("grant", "ok")
    recorded = events(device_id=dev.id)
    assert [(e.method, e.plate, e.direction, e.reason) for e in recorded] == [
        ("plate", "京A12345", "in", "ok"),
        ("plate", "京A12345", "in", "anti_passback"),
        ("plate", "京A12345", "out", "ok"),
        ("plate", "京A12345", "in", "ok"),
    ]
    assert {e.gate_id for e in recorded} == {world.car_gate.id}


def test_unknown_plate_and_other_site_plate(client, world):
    world.make_pass(plate="京A12345")
    _, barrier = world.device("barrier-1", kind="barrier", gates=[world.car_gate])
    assert reason(client, barrier, plate="沪B99999") == ("deny", "unknown")
    assert reason(client, barrier, plate="   ") == ("deny", "unknown")
    _, elsewhere = world.device("barrier-x", kind="barrier", gates=[], site=world.other_site)
    assert reason(client, elsewhere, plate="京A12345") == ("deny", "unknown")


def test_watchlisted_plate_denied_even_without_pass(client, world):
    _listed(world, plate="京A12345", reason="damage")
    _, barrier = world.device("barrier-1", kind="barrier", gates=[world.car_gate])
    assert reason(client, barrier, plate="京A12345") == ("deny", "watchlisted")
    p = world.make_pass(plate="京A12345")
    assert reason(client, barrier, plate="京A12345") == ("deny", "watchlisted")
    _, reader = world.device()
    assert reason(client, reader, qr=codes.qr_text(p)) == ("deny", "watchlisted")
    assert reason(client, barrier, plate="京A12346") == ("deny", "unknown")


def test_watchlisted_person_by_id_or_phone(client, world):
    _, reader = world.device()
    by_id = world.make_pass(visitor_id_number=ID_NUMBER)
    by_phone = world.make_pass(visitor_phone=PHONE)
    clean = world.make_pass(visitor_phone="+8613900000000")
    assert reason(client, reader, qr=codes.qr_text(by_id)) == ("grant", "ok")
    _listed(world, id_idx=crypto.blind_index("id", ID_NUMBER), hint="1101**********002X")
    _listed(world, phone_idx=crypto.blind_index("phone", PHONE), hint="138****5678")
    assert reason(client, reader, qr=codes.qr_text(by_id)) == ("deny", "watchlisted")
    assert reason(client, reader, qr=codes.qr_text(by_phone)) == ("deny", "watchlisted")
    assert reason(client, reader, qr=codes.qr_text(clean)) == ("grant", "ok")


def test_inactive_or_other_site_entries_do_not_deny(client, world):
    p = world.make_pass(visitor_phone=PHONE)
    entry = _listed(world, phone_idx=crypto.blind_index("phone", PHONE))
    entry.active = False
    db.session.add(
        WatchlistEntry(site_id=world.other_site.id, kind="person", active=True, phone_idx=crypto.blind_index("phone", PHONE))
    )
    db.session.commit()
    _, reader = world.device()
    assert reason(client, reader, qr=codes.qr_text(p)) == ("grant", "ok")


def _long_watchlist(world, n=2000):
    db.session.add_all(
        WatchlistEntry(site_id=world.site.id, kind="person", active=True, phone_idx=crypto.blind_index("phone", f"+86139{i:08d}"))
        for i in range(n)
    )
    db.session.commit()


def _gate_read_plan(conn):
    """The plan of the QR decision's one select (token, pass and watchlist probes), as text."""
    from portal.core import reads
    from portal.gate import queries

    prepared = reads.Prepared(queries._token_and_pass(), conn.dialect)
    params = prepared._params({"token_hash": "x", "pass_id": 1})
    explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
    return "\n".join(str(row) for row in conn.exec_driver_sql(explain + prepared.sql, params))


def _check_long_watchlist(client, world):
    _, reader = world.device()
    listed = world.make_pass(visitor_phone=PHONE)
    clean = world.make_pass(visitor_phone="+8615000000000")
    _long_watchlist(world)
    _listed(world, phone_idx=crypto.blind_index("phone", PHONE), hint="138****5678")
    assert reason(client, reader, qr=codes.qr_text(listed)) == ("deny", "watchlisted")
    assert reason(client, reader, qr=codes.qr_text(clean)) == ("grant", "ok")
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE watchlist")  # the planner judges with the real list size
    plan = _gate_read_plan(conn)
    # Each identity column is probed on its own (site_id, column) index: the site's list is never scanned.
    for index in ("ix_watchlist_site_id_number", "ix_watchlist_site_phone", "ix_watchlist_site_plate"):
        assert index in plan
    assert "SCAN watchlist" not in plan and "Seq Scan on watchlist" not in plan


@each_database
def test_a_long_watchlist_is_probed_by_index(client, world):
    _check_long_watchlist(client, world)
