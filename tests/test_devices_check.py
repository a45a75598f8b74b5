"""Test connection: the portal queues a health check, the bridge runs it against the device, the page shows the answer."""

from datetime import timedelta

import pytest
from bridge_support import add_device, fresh_simulators, run_bridge  # noqa: F401
from conftest import skip_unless
from drivers_support import MQTT_URL, DeviceProcess, reachable, unique_topic
from fakes.isapi_fake import FakeIsapiDevice
from support import csrf, login

from access_bridge.drivers import simulator
from portal.devices.models import DeviceCommand
from portal.extensions import db


def _manager(client, world):
    assert login(client, world.manager, world.PASSWORD).status_code == 302
    client.get("/desk/?lang=en")


def _test_connection(client, device):
    """Press "Test connection" on the device page; returns the check id the page polls."""
    resp = client.post(f"/devices/{device.id}/check", data={"csrf_token": csrf(client, f"/devices/{device.id}")})
    assert resp.status_code == 302 and "check=" in resp.location
    return int(resp.location.split("check=")[1].split("#")[0])


def _isapi(world, name, options):
    from portal.devices.operations import add_device as op

    device = op(world.site, name, "door_controller", "isapi", options)
    db.session.commit()
    return device


def _state(client, device, check_id, headers=None):
    return client.get(f"/api/v1/devices/{device.id}/checks/{check_id}", headers=headers or {}).get_json()


def test_simulator_answers_through_the_bridge_and_the_page_says_so(app, client, world):
    device = add_device(world, "gate-sim")
    _manager(client, world)
    check_id = _test_connection(client, device)
    waiting = client.get(f"/devices/{device.id}?check={check_id}").get_data(as_text=True)
    assert 'data-status="queued"' in waiting and "Waiting for the access bridge" in waiting
    assert _state(client, device, check_id)["status"] == "queued"  # the portal itself never called the device
    run_bridge(app)
    state = _state(client, device, check_id)
    assert state["status"] == "ok" and state["message"]["zh"] and state["message"]["en"].startswith("The device answered")
    client.get("/desk/?lang=zh")
    page = client.get(f"/devices/{device.id}?check={check_id}").get_data(as_text=True)
    assert "设备已应答" in page


def test_an_offline_simulator_is_reported_unreachable(app, client, world):
    device = add_device(world, "gate-off")
    simulator.device(device.id).go_offline()
    _manager(client, world)
    check_id = _test_connection(client, device)
    run_bridge(app)
    assert _state(client, device, check_id)["status"] == "unreachable"
    # The device now backs off; a second test still runs at once instead of waiting out the backoff.
    simulator.device(device.id).come_back()
    again = _test_connection(client, device)
    run_bridge(app)
    assert _state(client, device, again)["status"] == "ok"


def test_without_a_bridge_the_page_says_no_bridge_answered(client, world):
    device = add_device(world, "gate-nobridge")
    _manager(client, world)
    check_id = _test_connection(client, device)
    cmd = db.session.get(DeviceCommand, check_id)
    cmd.created_at = cmd.created_at - timedelta(seconds=25)  # as if 25 s went by with nobody answering
    db.session.commit()
    state = _state(client, device, check_id)
    assert state["status"] == "timeout" and "bridge running" in state["message"]["en"] and "20" in state["message"]["zh"]
    page = client.get(f"/devices/{device.id}?check={check_id}").get_data(as_text=True)
    assert 'data-status="timeout"' in page


def test_isapi_wrong_password_is_an_auth_failure_not_offline(app, client, world):
    fake = FakeIsapiDevice(password="Hik12345").start()
    try:
        opts = {"url": fake.url, "username": "admin", "password": "wrong-pw", "timeout": 1, "kind": "door"}
        device = _isapi(world, "door-isapi", opts)
        _manager(client, world)
        check_id = _test_connection(client, device)
        run_bridge(app)
        state = _state(client, device, check_id)
        assert state["status"] == "auth_failed" and "401" in state["detail"], state
        assert "user name and password" in state["message"]["en"]
        page = client.get(f"/devices/{device.id}?check={check_id}").get_data(as_text=True)
        assert "wrong-pw" not in page and "user name and password" in page
        # The manager corrects the password on the form; the next test passes.
        data = {"csrf_token": csrf(client, f"/devices/{device.id}/edit"), "name": "door-isapi", "o_url": fake.url}
        data |= {"o_username": "admin", "o_password": "Hik12345", "o_kind": "door", "o_timeout": "1", "o_verify": "y"}
        resp = client.post(f"/devices/{device.id}/edit", data=data)
        assert resp.status_code == 302
        again = _test_connection(client, device)
        run_bridge(app)
        assert _state(client, device, again)["status"] == "ok"
    finally:
        fake.stop()


def test_isapi_nobody_listening_is_unreachable(app, client, world):
    fake = FakeIsapiDevice().start()
    url = fake.url
    fake.stop()
    device = _isapi(world, "door-gone", {"url": url, "password": "x", "timeout": 0.5, "kind": "door"})
    _manager(client, world)
    check_id = _test_connection(client, device)
    run_bridge(app)
    assert _state(client, device, check_id)["status"] == "unreachable"


@pytest.mark.integration
def test_mqtt_controller_answers_through_the_broker(app, client, world):
    skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
    topic = unique_topic("check")
    proc = DeviceProcess(MQTT_URL, "--topic", topic)
    try:
        device = add_device(world, "door-mqtt", "door_controller", "mqtt", url=MQTT_URL, topic=topic, timeout=2)
        _manager(client, world)
        check_id = _test_connection(client, device)
        run_bridge(app)
        assert _state(client, device, check_id)["status"] == "ok"
    finally:
        proc.stop()


def test_who_may_test_a_connection(client, world):
    from portal.accounts.operations import create_user

    device = add_device(world, "gate-roles")
    other = create_user("other-mgr", world.PASSWORD, "manager", "Other", site=world.other_site)
    db.session.commit()
    _manager(client, world)
    check_id = _test_connection(client, device)
    client.post("/logout", data={"csrf_token": csrf(client, "/devices/")})
    for user in (world.guard, world.r1):
        h = world.token(user)
        assert client.post(f"/api/v1/devices/{device.id}/check", headers=h).status_code == 403
        assert client.get(f"/api/v1/devices/{device.id}/checks/{check_id}", headers=h).status_code == 403
    assert login(client, world.guard, world.PASSWORD).status_code == 302
    assert client.post(f"/devices/{device.id}/check", data={"csrf_token": csrf(client, "/devices/")}).status_code == 403
    assert 'id="check"' not in client.get(f"/devices/{device.id}?check={check_id}").get_data(as_text=True)
    h = world.token(other)
    assert client.post(f"/api/v1/devices/{device.id}/check", headers=h).status_code == 404
    assert client.get(f"/api/v1/devices/{device.id}/checks/{check_id}", headers=h).status_code == 404
    # A check id of another device (or none at all) is not found through this device.
    mine = world.token(world.manager)
    second = add_device(world, "gate-roles-2")
    assert client.get(f"/api/v1/devices/{second.id}/checks/{check_id}", headers=mine).status_code == 404
    queued = client.post(f"/api/v1/devices/{second.id}/check", headers=mine)
    assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
