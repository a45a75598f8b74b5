"""An OSDP gate (libosdp's own reader) keeps deciding through the edge while the portal's database is down."""

import threading

import pytest

from access_bridge.edge_runtime import EdgeRuntime
from access_bridge.ingest import ingest_events
from portal.extensions import db
from portal.passes import codes
from portal.passes.compact import make_compact
from portal.passes.operations import revoke_pass
from tests.edge_support import OsdpGate, events, portal_down


@pytest.fixture
def osdp_gate(app, world, tmp_path):
    device, _ = world.device("gate-osdp", "gate_reader")
    device.driver = "osdp"
    db.session.commit()
    runtime = EdgeRuntime(app, path=tmp_path / "edge.db")
    assert runtime.main.sync()
    reader = OsdpGate(device.id)
    decider = runtime.attach(reader.driver, device)
    assert reader.driver.wait_online(5)
    yield runtime, decider, reader, device
    reader.close()


def test_osdp_gate_admits_and_refuses_while_the_database_is_down(app, world, osdp_gate):
    runtime, decider, reader, device = osdp_gate
    ok = world.make_pass(max_entries=2)
    gone = world.make_pass()
    with app.test_request_context():
        revoke_pass(db.session.get(type(gone), gone.id))
        db.session.commit()
    assert runtime.main.sync()
    with portal_down(runtime.main, decider):
        reader.scan(make_compact(ok)[0])
        assert reader.answer() == ["relay", "green", "beep"]
        reader.scan(make_compact(gone)[1].encode("ascii"))
        assert reader.answer() == ["red", "beep"]
        reader.type(codes.keypad_code(ok))
        assert reader.answer() == ["relay", "green", "beep"]
        reader.scan(make_compact(ok)[0])  # both entries spent
        assert reader.answer() == ["red", "beep"]
        assert not runtime.main.sync()
    assert runtime.main.sync()
    rows = [(e.pass_id, e.decision, e.reason, e.device_id, e.details.get("offline")) for e in events(app)]
    assert rows == [
        (ok.id, "grant", "ok", device.id, True),
        (gone.id, "deny", "revoked", device.id, True),
        (ok.id, "grant", "ok", device.id, True),
        (ok.id, "deny", "used_up", device.id, True),
    ]
    db.session.expire_all()
    assert db.session.get(type(ok), ok.id).uses == 2
    # The driver's own events for the same decisions are not counted a second time.
    ingest_events(db.session, device, reader.driver.events(0))
    db.session.commit()
    assert len(events(app)) == 4


def test_runtime_sync_loop_picks_up_new_passes(app, world, osdp_gate):
    runtime, decider, reader, _ = osdp_gate
    runtime.sync_seconds = 0.05
    stop = threading.Event()
    thread = runtime.start(stop)
    try:
        p = world.make_pass()
        for _ in range(100):
            if p.id in runtime.store.passes:
                break
            stop.wait(0.05)
        assert p.id in runtime.store.passes
    finally:
        stop.set()
        thread.join(2)
