"""Emergency mode: fire releases every simulated door and lift through the bridge and restores them; drills only time."""

import pytest
from bridge_support import add_device, fresh_simulators, run_bridge, skip_backoff  # noqa: F401
from support import csrf

from access_bridge.drivers import simulator
from portal.audit.models import AuditEntry
from portal.bridge.models import DeviceCredential
from portal.devices.operations import add_device as add_isapi
from portal.emergency.models import Emergency
from portal.events.operations import record_event
from portal.extensions import db
from portal.notify.models import Message

URL = "/api/v1/sites/sunny/emergency"


def _post(client, path, body=None):
    token = csrf(client, "/desk/")
    return client.post(path, json=body if body is not None else {}, headers={"X-CSRFToken": token})


def _states(client):
    return {d["id"]: d["state"] for d in client.get(URL).get_json()["devices"]}


def _on_site(world, name, phone):
    p = world.make_pass(visitor_name=name, visitor_phone=phone, kind="contractor")
    with world.app.test_request_context():
        record_event(
            site_id=world.site.id, gate_id=world.gate.id, pass_id=p.id, decision="grant", reason="ok", method="qr", direction="in"
        )
        db.session.commit()
    return p


def test_fire_releases_every_door_and_lift_and_end_restores_them(app, world, guard_client):
    world.site.settings = {"assembly_point": "南广场", "assembly_point_en": "South square"}
    db.session.commit()
    doors = [add_device(world, f"door-{i}", kind="door_controller") for i in range(3)]
    lift = add_device(world, "lift-a", kind="elevator_controller")
    barrier = add_device(world, "barrier", kind="barrier")
    # A Hikvision elevator controller cannot hold its floors free on command (its doors can: tests/test_drivers_contract.py).
    with app.test_request_context():
        options = {"url": "http://127.0.0.1:1", "password": "b", "kind": "elevator"}
        isapi = add_isapi(world.site, "hik-lift", "elevator_controller", "isapi", options)
        db.session.commit()
    reader = add_device(world, "gate-reader", kind="gate_reader")  # a reader releases nothing
    _on_site(world, "王小明", "+8613800138000")
    _on_site(world, "John Smith", "+447700900123")

    resp = _post(guard_client, URL, {"kind": "fire", "reason": "smoke in B2"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["active"] is True and body["kind"] == "fire"
    states = _states(guard_client)
    assert reader.id not in states
    assert states[isapi.id] == "failed"  # it declares no release: shown, never pretended
    assert {states[d.id] for d in [*doors, lift, barrier]} == {"pending"}

    run_bridge(app)
    states = _states(guard_client)
    assert {states[d.id] for d in [*doors, lift, barrier]} == {"released"}
    assert all(simulator.device(d.id).mode == "released" for d in [*doors, lift, barrier])
    got = guard_client.get(URL).get_json()
    assert got["timings"]["release_seconds"] is not None

    # Visitors on site got the assembly point in their language.
    texts = {m.to: m.body for m in db.session.scalars(db.select(Message).where(Message.purpose == "emergency"))}
    assert "南广场" in texts["+8613800138000"] and "South square" in texts["+447700900123"]

    resp = _post(guard_client, URL + "/end")
    assert resp.status_code == 200
    run_bridge(app)
    last = guard_client.get(URL).get_json()
    assert last["active"] is False
    assert {d["state"] for d in last["last"]["devices"] if d["id"] != isapi.id} == {"restored"}
    assert all(simulator.device(d.id).emergency_log == ["release", "restore"] for d in [*doors, lift, barrier])
    actions = set(db.session.scalars(db.select(AuditEntry.action).where(AuditEntry.object_type == "emergency")))
    assert {"emergency.start", "emergency.end"} <= actions


def test_a_device_offline_during_the_emergency_is_caught_up_when_it_returns(app, world, guard_client):
    up = add_device(world, "door-up", kind="door_controller")
    down = add_device(world, "door-down", kind="door_controller")
    run_bridge(app)
    simulator.device(down.id).go_offline()
    assert _post(guard_client, URL, {"kind": "evacuation", "reason": "gas leak"}).status_code == 201
    run_bridge(app)
    assert _states(guard_client) == {up.id: "released", down.id: "pending"}
    assert guard_client.get(URL).get_json()["timings"]["release_seconds"] is None
    simulator.device(down.id).come_back()
    skip_backoff(down.id)
    run_bridge(app)
    assert _states(guard_client) == {up.id: "released", down.id: "released"}
    assert simulator.device(down.id).mode == "released"


def test_pushes_pause_during_a_fire_and_resume_after(app, world, guard_client):
    door = add_device(world, "door", kind="door_controller")
    run_bridge(app)
    assert _post(guard_client, URL, {"kind": "fire", "reason": "alarm bell"}).status_code == 201
    p = world.make_pass(visitor_name="访客")
    run_bridge(app)
    assert f"V{p.id}" not in simulator.device(door.id)
    assert _post(guard_client, URL + "/end").status_code == 200
    run_bridge(app)
    assert f"V{p.id}" in simulator.device(door.id)
    row = db.session.scalar(db.select(DeviceCredential).where(DeviceCredential.device_id == door.id))
    assert row.status == "ok"


def test_a_drill_releases_nothing_and_times_the_roll_call(app, world, guard_client, manager_client):
    door = add_device(world, "door", kind="door_controller")
    p = _on_site(world, "李四", None)
    resp = _post(manager_client, URL, {"kind": "drill", "reason": "quarterly drill"})
    assert resp.status_code == 201
    assert resp.get_json()["devices"] == []
    run_bridge(app)
    assert simulator.device(door.id).mode == "normal"
    people = guard_client.get(URL + "/roll-call").get_json()["people"]
    assert [(x["name"], x["pass_id"], x["accounted_at"]) for x in people] == [("李四", p.id, None)]
    assert guard_client.get(URL).get_json()["timings"]["roll_call_seconds"] is None
    resp = _post(guard_client, f"{URL}/roll-call/{people[0]['id']}/account")
    assert resp.status_code == 200 and resp.get_json()["accounted_at"]
    state = guard_client.get(URL).get_json()
    assert state["roll_call"] == {"total": 1, "accounted": 1}
    assert state["timings"]["roll_call_seconds"] is not None
    assert _post(guard_client, URL + "/end").status_code == 200
    record = db.session.scalar(db.select(Emergency))
    assert record.kind == "drill" and record.ended_at and record.roll_complete_at


def test_one_at_a_time_and_bad_input(world, guard_client):
    assert _post(guard_client, URL, {"kind": "flood", "reason": "x"}).status_code == 400
    assert _post(guard_client, URL, {"kind": "fire"}).get_json()["error"]["fields"]["reason"]
    assert _post(guard_client, URL + "/end").status_code == 409
    assert _post(guard_client, URL, {"kind": "drill", "reason": "drill"}).status_code == 201
    assert _post(guard_client, URL, {"kind": "fire", "reason": "again"}).status_code == 409


@pytest.mark.parametrize("path", [URL, URL + "/end", URL + "/roll-call"])
def test_residents_get_403_and_other_communities_404(world, resident_client, guard_client, path):
    assert resident_client.get(URL).status_code == 403
    token = csrf(resident_client, "/my/")
    assert resident_client.post(URL, json={"kind": "fire", "reason": "x"}, headers={"X-CSRFToken": token}).status_code == 403
    other = path.replace("/sunny/", "/other/")
    if path.endswith("/roll-call"):
        assert guard_client.get(other).status_code == 404
    else:
        assert guard_client.get(other.replace("/end", "")).status_code == 404
        assert _post(guard_client, other, {"kind": "fire", "reason": "x"}).status_code == 404


def test_desk_page_shows_each_device_and_starts_and_ends(world, guard_client):
    door = add_device(world, "东门", kind="door_controller")
    token = csrf(guard_client, "/desk/emergency/")
    resp = guard_client.post("/desk/emergency/start", data={"kind": "fire", "reason": "烟雾", "csrf_token": token})
    assert resp.status_code == 302
    page = guard_client.get("/desk/emergency/").get_data(as_text=True)
    assert "东门" in page and f'data-id="{door.id}" class="pending"' in page
    resp = guard_client.post("/desk/emergency/end", data={"csrf_token": token})
    assert resp.status_code == 302
    assert db.session.scalar(db.select(Emergency)).ended_at is not None


@pytest.mark.integration
def test_mqtt_doors_are_released_and_restored_with_acks_and_a_silent_one_caught_up(app, world, guard_client):
    from conftest import skip_unless
    from drivers_support import MQTT_URL, DeviceProcess, Probe, reachable, unique_topic

    skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
    prefix = unique_topic("emergency")
    fleet = DeviceProcess(MQTT_URL, "--prefix", prefix, "--count", "3")
    probe = Probe(MQTT_URL)
    try:
        topics = [f"{prefix}/{i}" for i in range(3)]
        doors = [
            add_device(world, f"mqtt-{i}", "door_controller", "mqtt", url=MQTT_URL, topic=t, timeout=1)
            for i, t in enumerate(topics)
        ]
        probe.control(topics[2], cmd="mute", on=True)  # off the network when the fire starts
        assert _post(guard_client, URL, {"kind": "fire", "reason": "fire panel"}).status_code == 201
        run_bridge(app)
        assert [probe.state(t)["mode"] for t in topics] == ["released", "released", "normal"]
        assert _states(guard_client) == {doors[0].id: "released", doors[1].id: "released", doors[2].id: "pending"}
        probe.control(topics[2], cmd="mute", on=False)
        skip_backoff(doors[2].id)
        run_bridge(app)
        assert probe.state(topics[2])["mode"] == "released"
        assert set(_states(guard_client).values()) == {"released"}
        assert _post(guard_client, URL + "/end").status_code == 200
        run_bridge(app)
        assert [probe.state(t)["mode"] for t in topics] == ["normal"] * 3
        assert {d["state"] for d in guard_client.get(URL).get_json()["last"]["devices"]} == {"restored"}
    finally:
        probe.close()
        fleet.stop()


def test_the_team_kpis_count_drills_and_alarm_acknowledgement(app, world, guard_client, manager_client):
    from portal.alarms import operations as alarms

    door = add_device(world, "door", kind="door_controller")
    with app.test_request_context():
        alarms.acknowledge(alarms.raise_alarm(door, "tamper"), world.guard)
        db.session.commit()
    assert _post(guard_client, URL, {"kind": "drill", "reason": "drill"}).status_code == 201
    kpi = manager_client.get("/api/v1/reports/kpi").get_json()
    assert kpi["drills"]["available"] and kpi["drills"]["held"] == 1
    assert kpi["alarms"]["available"] and kpi["alarms"]["acknowledged"] == 1
