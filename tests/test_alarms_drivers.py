"""Alarms from each driver against its peer: an esp-rfid-style door on Mosquitto, the ISAPI fake's alert stream,
a libosdp PD's tamper and power reports; each lands in the alarms table through the bridge."""

import pytest
from bridge_support import RunningBridge, add_device, fresh_simulators, wait_until  # noqa: F401
from conftest import skip_unless
from drivers_support import MQTT_URL, DeviceProcess, Probe, reachable, unique_topic

from access_bridge.drivers.mqtt import io_alarm
from portal.alarms.models import Alarm
from portal.extensions import db


def _alarms(device_id):
    return {(a.kind, a.state) for a in db.session.scalars(db.select(Alarm).where(Alarm.device_id == device_id))}


@pytest.mark.parametrize(
    ("io", "state", "kind", "cleared"),
    [
        ("door", "forced", "door_forced", False),
        ("door", "held", "door_held", False),
        ("door", "closed", "door_held", True),
        ("tamper", "on", "tamper", False),
        ("duress", "on", "duress", False),
        ("fire", "on", "fire_input", False),
        ("power", "lost", "power_loss", False),
        ("link", "lost", "link_loss", False),
    ],
)
def test_esp_rfid_status_messages_map_to_our_alarm_kinds(io, state, kind, cleared):
    alarm = io_alarm({"type": "io", "io": io, "state": state, "door": 1, "time": 1767225600})
    assert (alarm.kind, alarm.cleared, alarm.door) == (kind, cleared, 1)


def test_an_ordinary_door_opening_is_no_alarm():
    assert io_alarm({"type": "io", "io": "door", "state": "open"}) is None
    assert io_alarm({"type": "io", "io": "doorbell", "state": "on"}) is None


@pytest.fixture
def mqtt_door(app, world):
    """An esp-rfid-style door process on the shared Mosquitto, registered as a device, and a probe."""
    skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
    topic = unique_topic("alarms")
    proc = DeviceProcess(MQTT_URL, "--topic", topic)
    probe = Probe(MQTT_URL)
    device = add_device(world, "mqtt-door", "door_controller", "mqtt", url=MQTT_URL, topic=topic, timeout=2)
    yield device, probe, topic
    probe.close()
    proc.stop()


@pytest.mark.integration
def test_mqtt_door_status_messages_raise_and_clear_alarms(app, mqtt_door):
    device, probe, topic = mqtt_door
    with RunningBridge(app) as worker:
        assert wait_until(lambda: device.id in worker.watching)
        probe.control(topic, cmd="io", io="door", state="forced", door=1)
        probe.control(topic, cmd="io", io="door", state="held", door=1)
        probe.control(topic, cmd="io", io="tamper", state="on")
        assert wait_until(lambda: len(_alarms(device.id)) == 3)
        probe.control(topic, cmd="io", io="door", state="closed", door=1)
        assert wait_until(lambda: ("door_held", "cleared") in _alarms(device.id))
    assert _alarms(device.id) == {("door_forced", "open"), ("door_held", "cleared"), ("tamper", "open")}


# -- ISAPI: the alert stream against the protocol fake --------------------------------------------------------------
def _isapi_options(fake):
    return {
        "url": fake.url,
        "username": "admin",
        "password": "Hik12345",
        "timezone": "Asia/Shanghai",
        "kind": "door",
        "timeout": 1,
    }


def test_the_documented_alert_part_maps_and_heartbeats_do_not():
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from access_bridge.drivers.isapi_alerts import Parts, alert_from_part

    fixtures = Path(__file__).parent / "fixtures" / "isapi"
    alert = (fixtures / "alertstream_door_forced.json").read_bytes()
    beat = (fixtures / "alertstream_heartbeat.xml").read_bytes()
    stream = b"".join(
        b"--MIME_boundary\r\nContent-Type: x\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(body), body) for body in (beat, alert)
    )
    parts = Parts("MIME_boundary")
    bodies = [body for i in range(0, len(stream), 7) for body in parts.feed(stream[i : i + 7])]  # split anywhere
    assert bodies == [beat, alert]
    zone = ZoneInfo("Asia/Shanghai")
    assert alert_from_part(beat, zone) is None
    alarm = alert_from_part(alert, zone)
    assert (alarm.kind, alarm.door, alarm.source_key, alarm.cleared) == ("door_forced", 1, "isapi-204", False)


def test_isapi_alert_stream_reconnects_and_the_pull_fills_what_it_missed():
    from fakes.isapi_fake import FakeIsapiDevice

    from access_bridge.drivers import get_driver

    fake = FakeIsapiDevice().start()
    fake.heartbeat = 0.2
    driver = get_driver("isapi", 3, _isapi_options(fake))
    woken = []
    try:
        driver.watch_alarms(lambda: woken.append(1))
        assert fake.wait_streams(1)
        fake.push_alert(1, 0x404)  # tamper
        fake.push_alert(5, 0x1C, door=2)  # held open
        got = wait_for_alarms(driver, 2)
        assert [(a.kind, a.door, a.cleared) for a in got] == [("tamper", 1, False), ("door_held", 2, False)] and woken
        fake.drop_streams()  # a blip: the driver opens a new stream by itself
        missed = fake.add_event(0x1B, major=5, door=3)  # forced while no stream was open
        assert fake.wait_streams(1)
        assert fake.stream_connects == 2
        fake.push_alert(5, 0x1A, door=2)  # closed again
        assert [(a.kind, a.cleared) for a in wait_for_alarms(driver, 1)] == [("door_held", True)]
        driver.events(0)  # the pull the bridge does anyway brings the missed alarm, and the streamed ones again
        fallback = {a.source_key: a.kind for a in driver.alarms()}
        assert fallback[f"isapi-{missed}"] == "door_forced" and len(fallback) == 4
    finally:
        driver.close()
        fake.stop()


def wait_for_alarms(driver, count, timeout=5.0):
    """The driver's alarms once it has at least count."""
    import time

    got, deadline = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += driver.alarms()
        time.sleep(0.02)
    return got


def test_isapi_alarms_reach_the_table_once_through_the_bridge(app, world):
    from fakes.isapi_fake import FakeIsapiDevice

    fake = FakeIsapiDevice().start()
    try:
        from portal.devices.operations import add_device as register

        device = register(world.site, "hik-door", "door_controller", "isapi", _isapi_options(fake))
        db.session.commit()
        with RunningBridge(app, events_every=0.2) as worker:
            assert wait_until(lambda: device.id in worker.watching) and fake.wait_streams(1)
            fake.push_alert(1, 0x40A)  # duress
            fake.push_alert(5, 0x1B)  # forced
            assert wait_until(lambda: _alarms(device.id) == {("duress", "open"), ("door_forced", "open")})
            worker.events.every = 0  # the pull brings the same records again: no second alarm
            assert wait_until(lambda: fake.requests.count(("POST", "/ISAPI/AccessControl/AcsEvent")) >= 2)
        rows = db.session.scalars(db.select(Alarm).where(Alarm.device_id == device.id)).all()
        assert sorted(a.source_key for a in rows) == ["isapi-1", "isapi-2"]
    finally:
        fake.stop()


# -- OSDP: libosdp's own peripheral reports tamper, power, the door contact ----------------------------------------
def test_osdp_pd_tamper_power_and_a_forced_door_become_alarms():
    import time

    import osdp
    import test_drivers_osdp as reader

    caps = osdp.PDCapabilities([*reader.CAPS_LIST, (osdp.Capability.ContactStatusMonitoring, 1, 1)])
    gate = reader.Gate(caps=caps)
    woken = []
    try:
        gate.driver.watch_alarms(lambda: woken.append(1))
        assert gate.driver.wait_online(8)
        gate.pd.submit_event({"event": osdp.Event.Status, "type": osdp.StatusReportType.Local, "report": bytes([1, 0])})
        gate.pd.submit_event({"event": osdp.Event.Status, "type": osdp.StatusReportType.Local, "report": bytes([0, 1])})
        gate.pd.submit_event({"event": osdp.Event.Status, "type": osdp.StatusReportType.Input, "report": bytes([1])})
        got = wait_for_alarms(gate.driver, 3)
        assert [(a.kind, a.door) for a in got] == [("tamper", None), ("power_loss", None), ("door_forced", 1)] and woken
        gate.driver.open()  # the bridge released the strike: the contact opening now is no alarm
        gate.pd.submit_event({"event": osdp.Event.Status, "type": osdp.StatusReportType.Input, "report": bytes([1])})
        gate.pd.submit_event({"event": osdp.Event.Status, "type": osdp.StatusReportType.Input, "report": bytes([0])})
        got = wait_for_alarms(gate.driver, 1)
        time.sleep(0.3)
        got += gate.driver.alarms()
        assert [(a.kind, a.cleared) for a in got] == [("door_held", True)]
        # Held open for an evacuation, long after any pulse: people pushing through are not a forced door ...
        gate.driver._strike_until = 0.0  # the pulse above is over
        gate.driver.emergency("release")
        gate.pd.submit_event({"event": osdp.Event.Status, "type": osdp.StatusReportType.Input, "report": bytes([1])})
        time.sleep(0.3)
        assert [a.kind for a in gate.driver.alarms()] == []
        # ... and once restored, the contact opening without a grant is one again.
        gate.driver.emergency("restore")
        gate.pd.submit_event({"event": osdp.Event.Status, "type": osdp.StatusReportType.Input, "report": bytes([1])})
        assert [(a.kind, a.door) for a in wait_for_alarms(gate.driver, 1)] == [("door_forced", 1)]
    finally:
        gate.close()  # the reader too: its thread is not a daemon, and a live one keeps the test process from exiting
