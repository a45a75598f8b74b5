"""Door alarms: the simulator CLI and the bridge write them, the desk lists and acknowledges them, held doors clear."""

import json

import pytest
from bridge_support import add_device, fresh_simulators, run_bridge  # noqa: F401
from support import csrf

from access_bridge.drivers import simulator
from portal.alarms.models import Alarm
from portal.audit.models import AuditEntry
from portal.extensions import db


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["devices", "simulate-alarm", *map(str, args)])


def test_cli_raises_an_alarm_the_desk_lists_and_a_guard_acknowledges(app, world, guard_client):
    door = add_device(world, "east-door", kind="door_controller")
    result = _cli(app, door.id, "door_forced", "--door", 2)
    assert result.exit_code == 0, result.output
    raised = json.loads(result.output.strip().splitlines()[-1])
    assert raised["kind"] == "door_forced" and raised["state"] == "open"

    items = guard_client.get("/api/v1/desk/alarms").get_json()["items"]
    assert [(a["kind"], a["device_id"], a["door"], a["acknowledged_at"]) for a in items] == [("door_forced", door.id, 2, None)]
    assert items[0]["raised_at"] and items[0]["kind_label"]["zh"]

    token = csrf(guard_client, "/desk/")
    resp = guard_client.post(f"/api/v1/desk/alarms/{raised['id']}/acknowledge", headers={"X-CSRFToken": token})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["acknowledged_at"] and body["state"] == "acknowledged" and body["acknowledged_by"] == world.guard.display_name
    assert guard_client.get("/api/v1/desk/alarms?state=open").get_json()["items"] == []
    # Acknowledging again keeps the first guard's time.
    again = guard_client.post(f"/api/v1/desk/alarms/{raised['id']}/acknowledge", headers={"X-CSRFToken": token}).get_json()
    assert again["acknowledged_at"] == body["acknowledged_at"]
    actions = set(db.session.scalars(db.select(AuditEntry.action).where(AuditEntry.object_type == "alarm")))
    assert {"alarm.raise", "alarm.acknowledge"} <= actions


def test_cli_refuses_unknown_kinds_devices_and_real_drivers(app, world):
    door = add_device(world, "east-door", kind="door_controller")
    assert _cli(app, door.id, "earthquake").exit_code != 0
    assert _cli(app, 999999, "tamper").exit_code != 0
    mqtt = add_device(world, "mqtt-door", "door_controller", "mqtt", url="mqtt://127.0.0.1:1", topic="t/1")
    result = _cli(app, mqtt.id, "tamper")
    assert result.exit_code != 0 and "raises its own alarms" in result.output
    assert db.session.scalar(db.select(db.func.count(Alarm.id))) == 0


def test_a_held_door_that_closes_clears_itself_and_keeps_the_record(app, world, guard_client):
    door = add_device(world, "east-door", kind="door_controller")
    assert _cli(app, door.id, "door_held").exit_code == 0
    assert _cli(app, door.id, "door_held").exit_code == 0  # still held: the same alarm, counted again
    assert _cli(app, door.id, "door_held", "--clear").exit_code == 0
    items = guard_client.get("/api/v1/desk/alarms").get_json()["items"]
    assert len(items) == 1
    assert items[0]["state"] == "cleared" and items[0]["cleared_at"] and items[0]["repeats"] == 1
    assert guard_client.get("/api/v1/desk/alarms?state=open").get_json()["items"] == []
    # Only a held door clears itself: a forced door waits for a guard.
    assert _cli(app, door.id, "door_forced", "--clear").exit_code != 0


def test_simulated_inputs_reach_the_table_through_the_bridge(app, world):
    door = add_device(world, "east-door", kind="door_controller")
    sim = simulator.device(door.id)
    sim.raise_alarm("tamper")
    sim.raise_alarm("door_held", door=1)
    run_bridge(app)
    sim.raise_alarm("door_held", door=1, cleared=True)
    run_bridge(app)
    alarms = {a.kind: a for a in db.session.scalars(db.select(Alarm).where(Alarm.device_id == door.id))}
    assert set(alarms) == {"tamper", "door_held"}
    assert alarms["tamper"].state == "open" and alarms["door_held"].state == "cleared"
    assert alarms["tamper"].site_id == world.site.id


@pytest.mark.parametrize("who", ["resident", "other_guard"])
def test_residents_are_refused_and_other_communities_see_nothing(app, world, login_as, client, who):
    from portal.accounts.operations import create_user

    door = add_device(world, "east-door", kind="door_controller")
    alarm_id = json.loads(_cli(app, door.id, "tamper").output.strip().splitlines()[-1])["id"]
    if who == "resident":
        login_as(world.r1, client)
        assert client.get("/api/v1/desk/alarms").status_code == 403
        token = csrf(client, "/my/")
        assert client.post(f"/api/v1/desk/alarms/{alarm_id}/acknowledge", headers={"X-CSRFToken": token}).status_code == 403
        return
    other = create_user("guard-other", world.PASSWORD, "guard", "别的保安", site=world.other_site)
    db.session.commit()
    login_as(other, client)
    assert client.get("/api/v1/desk/alarms").get_json()["items"] == []
    token = csrf(client, "/desk/")
    assert client.post(f"/api/v1/desk/alarms/{alarm_id}/acknowledge", headers={"X-CSRFToken": token}).status_code == 404
    assert db.session.get(Alarm, alarm_id).acknowledged_at is None


def test_bad_state_filter_is_a_400(world, guard_client):
    resp = guard_client.get("/api/v1/desk/alarms?state=bogus")
    assert resp.status_code == 400 and resp.get_json()["error"]["fields"]["state"]


def test_an_alarm_becomes_an_incident_in_one_action_offered_to_the_nearest_guard(app, world, guard_client):
    from portal.incidents.models import Incident
    from portal.shifts.models import GuardOffer

    door = add_device(world, "east-door", kind="door_controller")
    alarm_id = json.loads(_cli(app, door.id, "door_forced").output.strip().splitlines()[-1])["id"]
    token = csrf(guard_client, "/desk/")
    resp = guard_client.post(f"/api/v1/desk/alarms/{alarm_id}/incident", headers={"X-CSRFToken": token})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["alarm"]["state"] == "acknowledged"
    incident = db.session.get(Incident, body["incident"]["id"])
    assert (incident.source, incident.device_id, incident.alarm_id, incident.severity) == ("alarm", door.id, alarm_id, "high")
    assert guard_client.post(f"/api/v1/desk/alarms/{alarm_id}/incident", headers={"X-CSRFToken": token}).status_code == 409
    # Acknowledged: nobody is still being offered the alarm.
    assert (
        db.session.scalar(
            db.select(db.func.count(GuardOffer.id)).where(GuardOffer.subject == "alarm", GuardOffer.answered_at.is_(None))
        )
        == 0
    )


def test_a_shifts_handover_record_lists_its_alarms(app, world, guard_client):
    door = add_device(world, "east-door", kind="door_controller")
    token = csrf(guard_client, "/desk/")
    guard_client.post("/api/v1/desk/shift/start", headers={"X-CSRFToken": token})
    assert _cli(app, door.id, "duress").exit_code == 0
    shift = guard_client.post("/api/v1/desk/shift/end", json={"notes": "交接"}, headers={"X-CSRFToken": token}).get_json()
    page = guard_client.get(f"/desk/handovers/{shift['id']}?lang=en").get_data(as_text=True)
    assert "Door alarms" in page and "Duress code" in page
