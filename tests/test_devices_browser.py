"""In Chromium: a manager adds an MQTT door from the generated form and tests its connection through the bridge."""

import pytest
from bridge_support import fresh_simulators, run_bridge  # noqa: F401
from browser_support import LiveServer, chromium, fill_mqtt_door, log_in
from conftest import skip_unless
from drivers_support import MQTT_URL, DeviceProcess, reachable, unique_topic

from portal.devices.models import Device
from portal.extensions import db


@pytest.mark.integration
@pytest.mark.browser
def test_manager_adds_an_mqtt_door_and_the_connection_test_answers(app, world, tmp_path):
    skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
    topic = unique_topic("form")
    controller = DeviceProcess(MQTT_URL, "--topic", topic)
    app.config["SERVER_NAME"] = None
    try:
        with LiveServer(app) as srv, chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            log_in(page, srv.url, world.manager.login, world.PASSWORD, world.otp(world.manager), lang="en")
            page.goto(f"{srv.url}/devices/new?driver=mqtt")
            fill_mqtt_door(page, MQTT_URL, topic)
            page.screenshot(path=str(tmp_path / "device-form-mqtt.png"), full_page=True)
            with page.expect_navigation():
                page.click("button:has-text('Save')")
            assert "Device added" in page.inner_text("main"), page.inner_text("main")
            with page.expect_navigation():
                page.click("text=Test connection")
            page.wait_for_selector("#check[data-status=queued]")
            assert "Waiting for the access bridge" in page.inner_text("#check")
            run_bridge(app)  # the bridge takes the request from the database and asks the controller
            page.wait_for_selector("#check.check-ok", timeout=5000)  # the page polled and shows the answer
            assert "The device answered" in page.inner_text("#check")
            page.screenshot(path=str(tmp_path / "device-connection-ok.png"), full_page=True)
    finally:
        controller.stop()
    device = db.session.scalar(db.select(Device).where(Device.name == "east-door"))
    assert device.options == {"url": MQTT_URL, "topic": topic, "timeout": 2.0} and device.doors == [1]
