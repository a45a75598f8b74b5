"""The esp-rfid MQTT driver against a device process on a real Mosquitto broker."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import skip_unless
from drivers_support import MOSQUITTO, MQTT_URL, DeviceProcess, PrivateBroker, Probe, free_port, reachable, unique_topic

from access_bridge.drivers import get_driver, mqtt_pool
from access_bridge.drivers.base import Credential, CredentialRejected, DeviceEvent, DeviceUnreachable, EventBuffer
from access_bridge.drivers.mqtt import MqttDriver, access_event

NOW = datetime.now(UTC).replace(microsecond=0)


def cred(key="V42", card="7F3A9C2E", start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=8), **extra):
    """A credential as the reconciler would hand it over."""
    return Credential(key=key, pass_id=42, version=1, name="Visitor", valid_from=start, valid_until=end, card_no=card, **extra)


def wait_for(predicate, timeout=3.0):
    """Poll until predicate() is truthy; return its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(0.02)
        value = predicate()
    return value


# -- no broker needed ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("access", "known", "decision", "reason", "key"),
    [
        ("Always", "true", "grant", "ok", "V42"),
        ("Expired", "true", "deny", "expired", "V42"),
        ("Disabled", "true", "deny", "revoked", "V42"),
        ("Denied", "true", "deny", "not_yet_valid", "V42"),
        ("Denied", "false", "deny", "unknown", None),
    ],
)
def test_access_messages_map_to_our_reasons(access, known, decision, reason, key):
    event = access_event(
        {
            "type": "access",
            "time": 1767225600,
            "isKnown": known,
            "access": access,
            "username": "V42",
            "uid": "7F3A9C2E",
            "doorName": "gate",
        }
    )
    assert (event.decision, event.reason, event.key, event.card_no) == (decision, reason, key, "7F3A9C2E")
    assert event.at == datetime(2026, 1, 1, tzinfo=UTC)


def test_event_serials_continue_from_what_the_caller_stored():
    buffer = EventBuffer()

    def event():
        return DeviceEvent(serial=0, at=NOW, decision="grant", reason="ok", method="card")

    buffer.add(event())
    buffer.add(event())
    assert [e.serial for e in buffer.take(after_serial=40)] == [41, 42]
    # Not yet stored by the caller: the same events come again with the same numbers.
    assert [e.serial for e in buffer.take(after_serial=40)] == [41, 42]
    buffer.add(event())
    assert [e.serial for e in buffer.take(after_serial=42)] == [43]
    assert buffer.take(after_serial=43) == []


def test_broker_down_is_unreachable_fast():
    driver = get_driver("mqtt", 1, {"url": f"mqtt://127.0.0.1:{free_port()}", "topic": unique_topic(), "timeout": 1})
    try:
        started = time.monotonic()
        with pytest.raises(DeviceUnreachable):
            driver.upsert(cred())
        assert time.monotonic() - started < 3
        assert driver.health() is False
    finally:
        driver.close()


# -- the shared Mosquitto -----------------------------------------------------------------------------------------
@pytest.fixture
def device():
    """A fake esp-rfid controller on the shared broker, a driver for it, and a probe."""
    skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
    topic = unique_topic("drivers")
    proc = DeviceProcess(MQTT_URL, "--topic", topic)
    probe = Probe(MQTT_URL)
    driver = get_driver("mqtt", 7, {"url": MQTT_URL, "topic": topic, "doorip": "10.0.0.1", "timeout": 2})
    yield driver, probe, topic
    driver.close()
    probe.close()
    proc.stop()


@pytest.mark.integration
def test_upsert_puts_the_user_with_its_window_on_the_device(device):
    driver, probe, topic = device
    driver.upsert(cred())
    users = probe.state(topic)["users"]
    assert users == {
        "7F3A9C2E": {
            "uid": "7F3A9C2E",
            "user": "V42",
            "acctype": "1",
            "validsince": int((NOW - timedelta(hours=1)).timestamp()),
            "validuntil": int((NOW + timedelta(hours=8)).timestamp()),
        }
    }
    assert driver.keys() == {"V42"}


@pytest.mark.integration
def test_new_card_number_replaces_the_old_one_and_revoke_removes_it(device):
    driver, probe, topic = device
    driver.upsert(cred(card="1111"))
    driver.upsert(cred(card="2222"))
    assert set(probe.state(topic)["users"]) == {"2222"}
    driver.revoke("V42")
    driver.revoke("V42")  # idempotent
    assert probe.state(topic)["users"] == {}
    with pytest.raises(CredentialRejected):
        driver.upsert(cred(card=None, pin="482913"))


@pytest.mark.integration
def test_a_restarted_bridge_still_revokes_what_it_pushed_before(device):
    driver, probe, topic = device
    driver.upsert(cred(key="V1", card="1001"))
    fresh = get_driver("mqtt", 7, {"url": MQTT_URL, "topic": topic, "timeout": 2})
    try:
        fresh.revoke("V1")  # knows nothing in memory: reads the device's user list
    finally:
        fresh.close()
    assert probe.state(topic)["users"] == {}


@pytest.mark.integration
def test_access_events_come_back_with_serials_and_reasons(device):
    driver, probe, topic = device
    driver.upsert(cred(key="V1", card="1001"))
    driver.upsert(cred(key="V2", card="1002", end=NOW - timedelta(minutes=1)))
    for uid in ("1001", "1002", "9999"):
        probe.control(topic, cmd="swipe", uid=uid)
    events = wait_for(lambda: len(driver.events(100)) == 3 and driver.events(100))
    assert [(e.serial, e.decision, e.reason, e.key, e.card_no) for e in events] == [
        (101, "grant", "ok", "V1", "1001"),
        (102, "deny", "expired", "V2", "1002"),
        (103, "deny", "unknown", None, "9999"),
    ]
    assert driver.events(103) == []


@pytest.mark.integration
def test_remote_open_and_shared_connection(device):
    driver, probe, topic = device
    other = get_driver("mqtt", 8, {"url": MQTT_URL, "topic": unique_topic("drivers"), "timeout": 2})
    try:
        assert other._broker is driver._broker  # one TCP connection per broker in the bridge
    finally:
        other.close()
    driver.open()
    assert probe.state(topic)["opened"] == 1


@pytest.mark.integration
def test_silent_device_is_unreachable_then_the_same_driver_recovers(device):
    driver, probe, topic = device
    probe.control(topic, cmd="mute", on=True)
    started = time.monotonic()
    with pytest.raises(DeviceUnreachable):
        driver.upsert(cred(key="V5", card="5005"))
    assert time.monotonic() - started < 3
    probe.control(topic, cmd="mute", on=False)
    driver.upsert(cred(key="V5", card="5005"))
    driver.revoke("V5")
    assert probe.state(topic)["users"] == {}


@pytest.mark.integration
def test_batches_over_many_devices_in_one_process():
    skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
    prefix = unique_topic("fleet")
    proc = DeviceProcess(MQTT_URL, "--prefix", prefix, "--count", "20")
    probe = Probe(MQTT_URL)
    drivers = [get_driver("mqtt", i, {"url": MQTT_URL, "topic": f"{prefix}/{i}", "timeout": 3}) for i in range(20)]
    try:
        assert MqttDriver.prime(drivers) == dict.fromkeys(range(20))  # user lists of all devices, overlapped
        batch = [cred(key=f"V{n}", card=str(5000 + n)) for n in range(10)]
        assert drivers[0].upsert_many(batch) == {c.key: None for c in batch}
        # Publish to every device first, then collect: the acks overlap instead of queueing behind each other.
        pending = [driver.begin_upsert_many(batch) for driver in drivers[1:]]
        assert all(p.wait() == {c.key: None for c in batch} for p in pending)
        assert set(probe.state(f"{prefix}/19")["users"]) == {str(5000 + n) for n in range(10)}
        assert drivers[3].revoke_many(["V1", "V2", "nobody"]) == {"V1": None, "V2": None, "nobody": None}
        assert len(probe.state(f"{prefix}/3")["users"]) == 8
        assert len({id(d._broker) for d in drivers}) == 1
    finally:
        for driver in drivers:
            driver.close()
        probe.close()
        proc.stop()


# -- a broker of our own, restarted under the driver -------------------------------------------------------------
@pytest.mark.integration
def test_broker_restart_driver_reconnects_and_commands_get_through(tmp_path):
    skip_unless(MOSQUITTO, "mosquitto binary not installed")
    broker = PrivateBroker(tmp_path)
    broker.start()
    topic = unique_topic("restart")
    proc = DeviceProcess(broker.url, "--topic", topic)
    driver = get_driver("mqtt", 9, {"url": broker.url, "topic": topic, "timeout": 1})
    probe = None
    try:
        driver.upsert(cred(key="V1", card="1001"))
        broker.stop()
        with pytest.raises(DeviceUnreachable):
            driver.upsert(cred(key="V2", card="1002"))
        broker.start()
        assert wait_for(driver.health, timeout=8)
        driver.revoke("V1")
        driver.upsert(cred(key="V2", card="1002"))
        probe = Probe(broker.url)
        assert set(probe.state(topic)["users"]) == {"1002"}
    finally:
        driver.close()
        if probe:
            probe.close()
        proc.stop()
        broker.stop()
    assert mqtt_pool._POOL.get((broker.url, "", "")) is None


@pytest.mark.integration
def test_a_user_list_cut_short_is_not_trusted_for_a_revocation():
    """The tail of an earlier, timed-out answer ends with that answer's ack: the driver must not think V1 gone."""
    skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
    topic = unique_topic("drivers")
    driver = get_driver("mqtt", 9, {"url": MQTT_URL, "topic": topic, "timeout": 2})
    probe = Probe(MQTT_URL)
    outcome = {}

    def revoke():
        try:
            driver.revoke("V1")
            outcome["error"] = None
        except DeviceUnreachable as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=revoke)
    try:
        worker.start()
        assert wait_for(lambda: any(w.kind == "getuserlist" for w in list(driver._waiting)))
        # The device holds V1 and V2; the user V1 of this answer went by before anyone waited for it.
        probe.client.publish(f"{topic}/send", json.dumps({"type": "userfile", "user": "V2", "uid": "1002"}), qos=1)
        probe.client.publish(f"{topic}/send", json.dumps({"type": "getuserlist", "count": 2}), qos=1)
        worker.join(5)
        assert isinstance(outcome["error"], DeviceUnreachable)
        assert not driver._listed  # the next attempt reads the whole list again
    finally:
        worker.join(5)
        driver.close()
        probe.close()
