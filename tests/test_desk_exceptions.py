"""Exceptions come from events and device checks, group repeats, and pass through shifts to the next guard."""

from desk_support import event

from portal.desk import operations
from portal.desk.models import DeskException
from portal.extensions import db


def _open(world):
    return db.session.scalars(
        db.select(DeskException)
        .where(DeskException.site_id == world.site.id, DeskException.status != "closed")
        .order_by(DeskException.id)
    ).all()


def test_each_kind_of_trouble_opens_an_exception(world):
    p = world.make_pass()
    event(world, decision="deny", reason="watchlisted", plate="京A12345", method="plate")
    event(world, decision="deny", reason="anti_passback", pass_id=p.id)
    event(world, decision="deny", reason="throttled", method="code", details={"burst": True})
    event(world, decision="deny", reason="used_up", pass_id=p.id, source="bridge", details={"offline_double_use": True})
    event(world, decision="deny", reason="error", source="bridge", details={"lost_events": [7, 8]})
    kinds = [x.kind for x in _open(world)]
    assert kinds == ["watchlist", "anti_passback", "keypad_burst", "offline_double_use", "lost_events"]


def test_grants_and_single_throttles_need_nobody(world):
    event(world)
    event(world, decision="deny", reason="throttled", method="code")
    event(world, method="remote", reason="remote_open", approved_by="guard")
    assert _open(world) == []


def test_repeated_denials_at_a_gate_group_into_one(world):
    for _ in range(5):
        event(world, decision="deny", reason="expired")
    event(world, decision="deny", reason="expired", gate_id=world.car_gate.id)
    event(world, decision="deny", reason="bad_signature")
    rows = _open(world)
    assert [(x.kind, x.reason, x.count) for x in rows] == [
        ("denied", "expired", 5),
        ("denied", "expired", 1),
        ("denied", "bad_signature", 1),
    ]


def test_take_and_close_with_outcome(client, world):
    event(world, decision="deny", reason="revoked")
    h = world.token(world.guard)
    items = client.get("/api/v1/desk/exceptions?status=open", headers=h).get_json()["items"]
    xid = items[0]["id"]
    assert items[0]["kind_label"]["en"] == "Denied scans"
    taken = client.post(f"/api/v1/desk/exceptions/{xid}/take", headers=h).get_json()
    assert taken["status"] == "taken" and taken["taken_by"] == "王师傅"
    assert client.post(f"/api/v1/desk/exceptions/{xid}/close", json={"outcome": "nonsense"}, headers=h).status_code == 400
    closed = client.post(
        f"/api/v1/desk/exceptions/{xid}/close", json={"outcome": "visitor_turned_away", "note": "told to call host"}, headers=h
    ).get_json()
    assert closed["status"] == "closed" and closed["outcome"] == "visitor_turned_away"
    assert client.get("/api/v1/desk/exceptions?status=open", headers=h).get_json()["items"] == []
    # A new denial after closing opens a fresh exception instead of reviving the closed one.
    event(world, decision="deny", reason="revoked")
    assert len(client.get("/api/v1/desk/exceptions?status=open", headers=h).get_json()["items"]) == 1


def test_device_offline_and_failed_pushes_come_from_the_job(app, world):
    from portal.bridge.models import DeviceCredential

    dev, _ = world.device("door-1", kind="door_controller")
    dev.status = "offline"
    db.session.add(DeviceCredential(device_id=dev.id, key="p1", desired="present", status="failed"))
    db.session.commit()
    operations.check_devices()
    operations.check_devices()  # a second run adds nothing
    db.session.commit()
    assert sorted(x.kind for x in _open(world)) == ["device_offline", "push_failed"]
    dev.status = "online"
    operations.check_devices()
    db.session.commit()
    assert [x.kind for x in _open(world)] == ["push_failed"]
    closed = db.session.scalar(db.select(DeskException).where(DeskException.kind == "device_offline"))
    assert closed.outcome == "auto_resolved"


def test_open_exceptions_pass_to_the_next_shift(client, world):
    from portal.accounts.operations import create_user

    event(world, decision="deny", reason="unknown")
    h = world.token(world.guard)
    assert client.post("/api/v1/desk/shift/end", json={"notes": "x"}, headers=h).status_code == 409
    client.post("/api/v1/desk/shift/start", headers=h)
    ended = client.post("/api/v1/desk/shift/end", json={"notes": "南门闸机卡顿，已报修"}, headers=h).get_json()
    assert len(ended["open_exception_ids"]) == 1
    with world.app.test_request_context():
        night = create_user("guard2", world.PASSWORD, "guard", "夜班", site=world.site)
        db.session.commit()
    view = client.get("/api/v1/desk/shift", headers=world.token(night)).get_json()
    assert view["shift"] is None
    assert view["handover"]["notes"] == "南门闸机卡顿，已报修" and view["handover"]["guard"] == "王师傅"
    assert [x["id"] for x in view["open_exceptions"]] == ended["open_exception_ids"]
