"""Remote open, who is on site (roll call, CSV), vehicles and overstays, contractors and deliveries."""

import csv
import io
from datetime import timedelta

from desk_support import event

from portal.audit.models import AuditEntry
from portal.core.timeutil import utcnow
from portal.desk import operations
from portal.desk.models import DeskException
from portal.devices.models import DeviceCommand
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.passes.models import Pass


def test_remote_open_queues_a_command_records_and_audits_but_never_a_pass(client, world):
    dev, _ = world.device("door-1", kind="door_controller")
    h = world.token(world.guard)
    assert client.post("/api/v1/desk/remote-open", json={"device_id": dev.id}, headers=h).status_code == 400
    passes_before = db.session.scalar(db.select(db.func.count()).select_from(Pass))
    resp = client.post("/api/v1/desk/remote-open", json={"device_id": dev.id, "reason": "业主忘带卡", "door": 1}, headers=h)
    assert resp.status_code == 202
    body = resp.get_json()
    cmd = db.session.get(DeviceCommand, body["command_id"])
    assert (cmd.kind, cmd.door, cmd.status, cmd.requested_by_id) == ("open", 1, "queued", world.guard.id)
    ev = db.session.get(AccessEvent, body["event_id"])
    assert (ev.method, ev.reason, ev.approved_by, ev.actor_id, ev.gate_id) == (
        "remote",
        "remote_open",
        "guard",
        world.guard.id,
        world.gate.id,
    )
    audit = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "desk.remote_open")).one()
    assert audit.details["reason"] == "业主忘带卡" and audit.actor_id == world.guard.id
    assert db.session.scalar(db.select(db.func.count()).select_from(Pass)) == passes_before


def test_emergency_open_is_one_tap_with_its_category(client, world):
    dev, _ = world.device("barrier", kind="barrier", gates=[world.car_gate])
    resp = client.post(
        "/api/v1/desk/remote-open", json={"device_id": dev.id, "emergency": "ambulance"}, headers=world.token(world.guard)
    )
    ev = db.session.get(AccessEvent, resp.get_json()["event_id"])
    assert ev.details["emergency"] == "ambulance" and ev.gate_id == world.car_gate.id
    bad = client.post(
        "/api/v1/desk/remote-open", json={"device_id": dev.id, "emergency": "pizza"}, headers=world.token(world.guard)
    )
    assert bad.status_code == 400


def test_remote_open_of_another_sites_device_is_not_found(client, world):
    dev, _ = world.device("far", kind="door_controller", gates=[], site=world.other_site)
    resp = client.post("/api/v1/desk/remote-open", json={"device_id": dev.id, "reason": "test"}, headers=world.token(world.guard))
    assert resp.status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(DeviceCommand)) == 0


def test_on_site_roll_call_by_building_with_safe_csv(client, world):
    inside = world.make_pass(visitor_name='=HYPERLINK("http://x")', kind="contractor", company="+装修队", work_area="A栋12层")
    left = world.make_pass(visitor_name="已离开")
    other = world.make_pass(host=world.r2, visitor_name="B栋访客")
    event(world, pass_id=inside.id, direction="in")
    event(world, pass_id=left.id, direction="in")
    event(world, pass_id=left.id, direction="out")
    event(world, pass_id=other.id, direction="in")
    event(world, pass_id=other.id, direction="in", decision="deny", reason="anti_passback")
    h = world.token(world.guard)
    data = client.get("/api/v1/desk/on-site", headers=h).get_json()
    assert data["total"] == 2
    assert [(b["building"], [p["visitor"] for p in b["people"]]) for b in data["buildings"]] == [
        ("A栋", ['=HYPERLINK("http://x")']),
        ("B栋", ["B栋访客"]),
    ]
    text = client.get("/api/v1/desk/on-site.csv", headers=h).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["building", "unit", "visitor"]
    assert rows[1][2] == '\'=HYPERLINK("http://x")' and rows[1][5] == "'+装修队"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_vehicle_overstay_is_flagged_once(client, world):
    world.site.settings = {"parking_minutes": 60}
    db.session.commit()
    p = world.make_pass(plate="京A12345")
    event(world, pass_id=p.id, plate="京A12345", method="plate", gate_id=world.car_gate.id)
    cars = client.get("/api/v1/desk/vehicles", headers=world.token(world.guard)).get_json()["items"]
    assert cars[0]["plate"] == "京A12345" and cars[0]["limit_minutes"] == 60 and not cars[0]["overstay"]
    assert operations.check_overstays(now=utcnow() + timedelta(minutes=30)) == 0
    assert operations.check_overstays(now=utcnow() + timedelta(minutes=61)) == 1
    assert operations.check_overstays(now=utcnow() + timedelta(minutes=90)) == 0
    db.session.commit()
    assert db.session.scalars(db.select(DeskException.kind)).all() == ["overstay"]


def test_desk_sees_contractors_and_recurring_courier_passes(client, world):
    now = utcnow()
    c = world.make_pass(
        visitor_name="李师傅",
        kind="contractor",
        company="安居装修",
        work_area="A栋1201",
        schedule={"days": [1, 2, 3, 4, 5, 6, 7], "start": "08:00", "end": "18:00"},
        valid_until=now + timedelta(days=20),
    )
    world.make_pass(
        visitor_name="顺丰小哥",
        kind="delivery",
        schedule={"days": [1, 3, 5], "start": "09:00", "end": "12:00"},
        valid_until=now + timedelta(days=60),
    )
    event(world, pass_id=c.id)
    data = client.get("/api/v1/desk/contractors", headers=world.token(world.guard)).get_json()
    assert [(x["visitor"], x["company"], x["work_area"], x["hours"], x["on_site"]) for x in data["contractors"]] == [
        ("李师傅", "安居装修", "A栋1201", "08:00–18:00", True)
    ]
    assert [(x["visitor"], x["recurring"], x["days"]) for x in data["deliveries"]] == [("顺丰小哥", True, [1, 3, 5])]


def test_remote_open_page_says_open_the_door_and_device_state_in_chinese(client, world):
    """The button is a verb (开门), not the exception status "open" (未处理); the state badge is translated."""
    from desk_support import login_page

    world.device("door-1", kind="door_controller")
    login_page(client, world, world.guard)
    html = client.get("/desk/remote", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert ">开门</button>" in html and "未处理" not in html
    assert "待同步" in html or "sync-pending" in html
    assert ">pending<" not in html


def test_remote_page_shows_a_refused_open_again_with_why_in_the_guards_language(guard_client, world):
    """No reason given, or a device of another community: the form comes back with a 400, and nothing is queued."""
    from support import csrf

    from portal.core.errors import bilingual

    dev, _ = world.device("door-1", kind="door_controller")
    far, _ = world.device("far", kind="door_controller", gates=[], site=world.other_site)
    token = csrf(guard_client, "/desk/remote")
    required = bilingual("This field is required.")
    for lang, accept in (("en", "en"), ("zh", "zh-CN")):
        resp = guard_client.post(
            "/desk/remote", data={"csrf_token": token, "device_id": dev.id, "reason": ""}, headers={"Accept-Language": accept}
        )
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400 and required[lang] in page and 'name="device_id"' in page
    assert required["zh"] != required["en"]
    other = guard_client.post("/desk/remote", data={"csrf_token": token, "device_id": far.id, "reason": "test"})
    assert other.status_code == 400 and bilingual("Not found.")["zh"] in other.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(DeviceCommand)) == 0
    sent = guard_client.post("/desk/remote", data={"csrf_token": token, "device_id": dev.id, "reason": "业主忘带卡"})
    assert sent.status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(DeviceCommand)) == 1
