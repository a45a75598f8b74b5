"""Edge decisions: online consumption, and gates that keep working while the portal's database is down."""

import time
from datetime import timedelta

import pytest

from access_bridge.edge import EdgeDecider
from access_bridge.edge_runtime import make_osdp_callback
from access_bridge.edge_store import EdgeStore
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.passes import codes
from portal.passes.compact import make_compact
from portal.passes.operations import revoke_pass
from tests.edge_support import events, make_decider, portal_down, qr_now


def fresh(p):
    db.session.expire_all()
    return db.session.get(type(p), p.id)


def test_online_grant_consumes_in_the_portal_and_records_the_event(app, world, tmp_path):
    p = world.make_pass(max_entries=1)
    gate = world.gate.id
    edge = make_decider(app, tmp_path)
    assert edge.decide("qr", qr_now(p), gate) == (True, "ok", p.id)
    assert edge.decide("qr", qr_now(p), gate) == (False, "used_up", p.id)
    assert fresh(p).uses == 1
    rows = events(app, pass_id=p.id)
    assert [(e.decision, e.reason, e.source) for e in rows] == [("grant", "ok", "bridge"), ("deny", "used_up", "bridge")]


def test_two_online_edges_cannot_both_spend_the_last_entry(app, world, tmp_path):
    p = world.make_pass(max_entries=1)
    a, b = make_decider(app, tmp_path, "a"), make_decider(app, tmp_path, "b")
    assert a.decide("qr", qr_now(p), world.gate.id)[0]
    # b's snapshot still says 0 uses; the conditional UPDATE in the portal refuses it.
    assert b.store.passes[p.id].uses == 0
    assert b.decide("qr", qr_now(p), world.gate.id) == (False, "used_up", p.id)
    assert fresh(p).uses == 1


def test_offline_admits_valid_visitors_and_refuses_revoked_ones(app, world, tmp_path):
    ok, gone = world.make_pass(), world.make_pass()
    with app.test_request_context():
        revoke_pass(fresh(gone), reason="host cancelled")
        db.session.commit()
    edge = make_decider(app, tmp_path)  # learns of the revocation before the outage
    with portal_down(edge):
        assert edge.decide("qr", qr_now(ok), world.gate.id) == (True, "ok", ok.id)
        assert edge.decide("card", make_compact(ok)[0], world.gate.id) == (True, "ok", ok.id)
        assert edge.decide("code", codes.keypad_code(ok), world.gate.id) == (True, "ok", ok.id)
        assert edge.decide("qr", qr_now(gone), world.gate.id) == (False, "revoked", gone.id)
        assert edge.decide("card", make_compact(gone)[0], world.gate.id) == (False, "revoked", gone.id)
        assert not edge.online
    assert events(app) == []  # nothing reached the portal yet


def test_offline_checks_window_gate_schedule_and_tampering(app, world, tmp_path):
    now = utcnow()
    later = world.make_pass(valid_from=now + timedelta(hours=1), valid_until=now + timedelta(hours=3))
    car_only = world.make_pass(gate_ids=[world.car_gate.id])
    edge = make_decider(app, tmp_path)
    good = qr_now(car_only)
    tampered = good[:60] + ("A" if good[60] != "A" else "B") + good[61:]
    with portal_down(edge):
        assert edge.decide("qr", qr_now(later), world.gate.id)[:2] == (False, "not_yet_valid")
        assert edge.decide("qr", good, world.gate.id)[:2] == (False, "wrong_gate")
        assert edge.decide("qr", good, world.car_gate.id)[:2] == (True, "ok")
        assert edge.decide("qr", tampered, world.car_gate.id)[:2] == (False, "bad_signature")
        assert edge.decide("qr", "not a token", world.gate.id)[:2] == (False, "bad_signature")
        assert edge.decide("qr", good, 99999)[:2] == (False, "wrong_gate")


def test_offline_uses_are_reported_once_when_the_link_returns(app, world, tmp_path):
    p = world.make_pass(max_entries=3)
    edge = make_decider(app, tmp_path)
    t0 = time.time()
    with portal_down(edge):
        assert edge.decide("qr", qr_now(p), world.gate.id)[0]
        assert edge.decide("code", codes.keypad_code(p), world.gate.id)[0]
        assert edge.decide("code", codes.keypad_code(p), world.gate.id) == (False, "replayed", p.id)
    assert edge.sync()
    rows = events(app, pass_id=p.id)
    assert [(e.decision, e.reason, e.method) for e in rows] == [
        ("grant", "ok", "qr"),
        ("grant", "ok", "code"),
        ("deny", "replayed", "code"),
    ]
    assert all(e.details.get("offline") and e.at.timestamp() >= t0 - 1 for e in rows)
    assert rows[0].at.timestamp() < time.time()  # the original time, not the report's
    assert fresh(p).uses == 2
    assert fresh(p).otp_last_step >= codes.qrtext.current_step(t0)
    # A crash after the portal committed but before the store noted it: reporting again adds nothing.
    edge.store._set_meta("reported_upto", 0)
    assert edge.sync()
    assert len(events(app, pass_id=p.id)) == 3 and fresh(p).uses == 2
    # And the edge's local count stays right after the refresh.
    assert edge.store.passes[p.id].used == 2


def test_double_use_across_two_gates_during_the_outage_is_flagged(app, world, tmp_path):
    once = world.make_pass(max_entries=1)
    gate_a, gate_b = make_decider(app, tmp_path, "a"), make_decider(app, tmp_path, "b")
    with portal_down(gate_a, gate_b):
        assert gate_a.decide("qr", qr_now(once), world.gate.id) == (True, "ok", once.id)
        assert gate_b.decide("card", make_compact(once)[0], world.car_gate.id) == (True, "ok", once.id)
        # Each gate alone refuses a second use.
        assert gate_a.decide("qr", qr_now(once), world.gate.id) == (False, "used_up", once.id)
    assert gate_a.sync() and gate_b.sync()
    grants = [e for e in events(app, pass_id=once.id) if e.decision == "grant"]
    assert [(e.reason, bool(e.details.get("offline_double_use"))) for e in grants] == [("ok", False), ("used_up", True)]
    assert grants[1].gate_id == world.car_gate.id
    assert fresh(once).uses == 2 and fresh(once).state() == "used_up"
    # A second report from both gates flags nothing new.
    gate_a.store._set_meta("reported_upto", 0)
    gate_b.store._set_meta("reported_upto", 0)
    assert gate_a.sync() and gate_b.sync()
    assert sum(bool(e.details.get("offline_double_use")) for e in events(app, pass_id=once.id)) == 1


def test_the_store_survives_a_restart_while_the_portal_is_down(app, world, tmp_path):
    once = world.make_pass(max_entries=1)
    edge = make_decider(app, tmp_path)
    with portal_down(edge):
        assert edge.decide("qr", qr_now(once), world.gate.id)[0]
    edge.store.close()
    again = EdgeDecider(edge.app, EdgeStore(tmp_path / "edge-a.db"))
    with portal_down(again):
        assert not again.sync()
        assert again.decide("qr", qr_now(once), world.gate.id) == (False, "used_up", once.id)
    assert again.sync()
    assert fresh(once).uses == 1
    assert len([e for e in events(app, pass_id=once.id) if e.decision == "grant"]) == 1


def test_keypad_guessing_is_throttled_offline(app, world, tmp_path):
    p = world.make_pass()
    edge = make_decider(app, tmp_path)
    with portal_down(edge):
        results = [edge.decide("code", f"{p.keypad_no}{n:06d}", world.gate.id)[1] for n in range(12)]
        assert set(results[:5]) == {"unknown"} and results[-1] == "throttled"
        # The right code is refused too while the pass is throttled.
        assert edge.decide("code", codes.keypad_code(p), world.gate.id)[1] == "throttled"


def test_anti_passback_when_the_gate_reports_direction(app, world, tmp_path):
    p = world.make_pass()
    edge = make_decider(app, tmp_path)
    assert edge.decide("qr", qr_now(p), world.gate.id, "in")[:2] == (True, "ok")
    assert edge.decide("qr", qr_now(p), world.gate.id, "in")[:2] == (False, "anti_passback")
    with portal_down(edge):
        assert edge.decide("qr", qr_now(p), world.gate.id, "out")[:2] == (True, "ok")
        assert edge.decide("qr", qr_now(p), world.gate.id, "in")[:2] == (True, "ok")
        assert edge.decide("qr", qr_now(p), world.gate.id, "in")[:2] == (False, "anti_passback")
        assert edge.decide("qr", qr_now(p), world.gate.id, "out")[:2] == (True, "ok")  # exits are never refused
    assert edge.sync()
    assert fresh(p).uses == 2 and fresh(p).last_direction == "out"


def test_a_pass_issued_after_the_snapshot_is_fetched_online(app, world, tmp_path):
    edge = make_decider(app, tmp_path)
    p = world.make_pass()
    assert edge.decide("code", codes.keypad_code(p), world.gate.id) == (True, "ok", p.id)


def test_decisions_fail_closed(app, world, tmp_path, monkeypatch):
    p = world.make_pass()
    edge = make_decider(app, tmp_path)
    monkeypatch.setattr(edge, "_check", lambda *a: 1 / 0)
    assert edge.decide("qr", qr_now(p), world.gate.id) == (False, "error", None)


def test_osdp_callback_maps_card_data_and_key_presses(app, world, tmp_path):
    p = world.make_pass(max_entries=5)
    edge = make_decider(app, tmp_path)
    on_credential = make_osdp_callback(edge, world.gate.id, directions={0: "in", 1: "out"})
    raw, text = make_compact(p)
    assert on_credential("card", raw, 0) == (True, "ok")
    assert on_credential("card", text.encode("ascii"), 1) == (True, "ok")
    assert on_credential("keys", codes.keypad_code(p).encode(), 0) == (True, "ok")
    assert on_credential("card", b"\x00\x01", 0) == (False, "bad_signature")
    assert fresh(p).uses == 2  # the exit did not spend an entry


def test_watchlist_hits_are_refused_online_and_offline(app, world, tmp_path):
    from portal.core.crypto import blind_index
    from portal.watchlist.models import WatchlistEntry

    listed = world.make_pass(visitor_phone="+8613812345678")
    edge = make_decider(app, tmp_path)
    # Listed after the snapshot: the conditional UPDATE in the portal still catches it.
    db.session.add(WatchlistEntry(site_id=world.site.id, kind="person", phone_idx=blind_index("phone", "+8613812345678")))
    db.session.commit()
    assert edge.decide("qr", qr_now(listed), world.gate.id) == (False, "watchlisted", listed.id)
    assert fresh(listed).uses == 0
    assert edge.sync()
    with portal_down(edge):
        assert edge.decide("code", codes.keypad_code(listed), world.gate.id) == (False, "watchlisted", listed.id)


def test_schedule_is_enforced_offline_but_never_traps_anyone_inside(app, world, tmp_path):
    from portal.core.timeutil import local

    now = local(utcnow(), "Asia/Shanghai")
    other_day = now.isoweekday() % 7 + 1
    p = world.make_pass(schedule={"days": [other_day], "start": "00:00", "end": "23:59"}, max_entries=None)
    edge = make_decider(app, tmp_path)
    with portal_down(edge):
        assert edge.decide("qr", qr_now(p), world.gate.id)[:2] == (False, "outside_schedule")
        assert edge.decide("qr", qr_now(p), world.gate.id, "out")[:2] == (True, "ok")


@pytest.mark.integration
def test_on_postgresql_racing_edges_spend_one_entry_and_offline_double_use_is_flagged(pg_app, pg_world, tmp_path):
    import concurrent.futures

    world, app = pg_world, pg_app
    race = world.make_pass(max_entries=1)
    edges = [make_decider(app, tmp_path, f"r{i}") for i in range(4)]
    text, gate_id = qr_now(race), world.gate.id
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda e: e.decide("qr", text, gate_id), edges))
    assert sorted(r[1] for r in results) == ["ok", "used_up", "used_up", "used_up"]
    assert fresh(race).uses == 1
    once = world.make_pass(max_entries=1)
    a, b = edges[0], edges[1]
    assert a.sync() and b.sync()
    with portal_down(a, b):
        assert a.decide("qr", qr_now(once), world.gate.id)[0] and b.decide("qr", qr_now(once), world.gate.id)[0]
    assert a.sync() and b.sync()
    flagged = [e for e in events(app, pass_id=once.id) if e.details.get("offline_double_use")]
    assert len(flagged) == 1 and fresh(once).uses == 2
