"""Device events back into the access-event table: idempotent, with lost events reported."""

from datetime import timedelta

import portal.bridge.edge_models  # noqa: F401  (tables for create_all)
from access_bridge.drivers.base import DeviceEvent
from access_bridge.ingest import ingest_events, last_serial
from portal.core.timeutil import utcnow
from portal.extensions import db
from tests.edge_support import events


def ev(serial, decision="grant", reason="ok", key=None, method="card", minutes=0):
    return DeviceEvent(
        serial=serial,
        at=utcnow() - timedelta(minutes=60 - minutes),
        decision=decision,
        reason=reason,
        method=method,
        key=key,
        door=1,
    )


def test_replayed_batch_creates_no_duplicates(app, world):
    p = world.make_pass()
    dev, _ = world.device("door-1", "door_controller")
    batch = [ev(1, key=f"V{p.id}"), ev(2, "deny", "expired"), ev(3, key="V999999")]
    first = ingest_events(db.session, dev, batch)
    db.session.commit()
    again = ingest_events(db.session, dev, [*batch, ev(4)])
    db.session.commit()
    assert (first.inserted, again.inserted, again.duplicates) == (3, 1, 3)
    rows = events(app, device_id=dev.id)
    assert [(e.device_serial, e.decision, e.reason, e.source) for e in rows] == [
        (1, "grant", "ok", "device"),
        (2, "deny", "expired", "device"),
        (3, "grant", "ok", "device"),
        (4, "grant", "ok", "device"),
    ]
    assert rows[0].pass_id == p.id and rows[2].pass_id is None  # unknown key: no pass
    assert rows[0].gate_id == world.gate.id and rows[0].site_id == world.site.id
    assert last_serial(db.session, dev.id) == 4


def test_gap_in_serials_is_reported_as_lost_events(app, world, caplog):
    dev, _ = world.device("door-2", "door_controller")
    ingest_events(db.session, dev, [ev(10), ev(11)])
    db.session.commit()
    result = ingest_events(db.session, dev, [ev(15), ev(14)])
    db.session.commit()
    assert result.lost == [(12, 13)] and result.inserted == 2
    lost = [e for e in events(app, device_id=dev.id) if e.details.get("lost_events")]
    assert [(e.reason, e.details["lost_events"]) for e in lost] == [("error", [12, 13])]
    assert "lost events" in caplog.text
    # The same batch again reports no new gap.
    assert ingest_events(db.session, dev, [ev(14), ev(15)]).lost == []
    # A late event inside the gap is still recorded, once.
    late = ingest_events(db.session, dev, [ev(12)])
    db.session.commit()
    assert (late.inserted, late.lost) == (1, [])
    assert ingest_events(db.session, dev, [ev(12)]).inserted == 0


def test_foreign_reasons_and_keys_are_mapped_into_our_vocabulary(app, world):
    other_dev, _ = world.device("door-3", "door_controller", gates=[])
    batch = [ev(1, "deny", "tailgating-vendor-code", method="fingerprint"), ev(2, key="V")]
    result = ingest_events(db.session, other_dev, batch)
    db.session.commit()
    rows = events(app, device_id=other_dev.id)
    assert result.inserted == 2
    assert (rows[0].reason, rows[0].method, rows[0].details["device_reason"]) == ("error", "card", "tailgating-vendor-code")
    assert rows[0].gate_id is None  # serves the whole site: no single gate


def test_a_key_of_another_site_pass_is_not_linked(app, world):
    from portal.accounts.operations import create_user
    from portal.sites import operations as places

    unit = places.add_unit(places.add_building(world.other_site, "X", "X", 1, 3), "101", 1)
    host = create_user("other-host", world.PASSWORD, "resident", "Other")
    places.move_in(host, unit, "owner")
    db.session.commit()
    foreign = world.make_pass(host=host, unit=unit)
    dev, _ = world.device("door-4", "door_controller")
    ingest_events(db.session, dev, [ev(1, key=f"V{foreign.id}")])
    db.session.commit()
    assert events(app, device_id=dev.id)[0].pass_id is None
