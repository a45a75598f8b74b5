"""Every desk command kind against every registered driver: carried out as that kind when declared, refused otherwise."""
from __future__ import annotations

import contextlib

import pytest
from conftest import skip_unless
from drivers_support import MQTT_URL, DeviceProcess, Probe, reachable, unique_topic
from fakes.isapi_fake import FakeIsapiDevice
from fakes.isapi_shapes import problems

from access_bridge import reconciler as rc
from access_bridge.drivers import get_driver
from access_bridge.drivers.base import COMMANDS, REGISTRY
from access_bridge.drivers.simulator import reset as sim_reset

# (slug, options label): every driver in the registry, ISAPI once per device kind (capabilities differ by kind).
VARIANTS = [("simulator", None), ("mqtt", None), ("osdp", None),
            ("isapi", "door"), ("isapi", "face"), ("isapi", "elevator")]
# What the device must have seen for each command kind: the documented payload, not a guess from the reason text.
ISAPI_CMD = {"open": "open", "call_lift": "visitorCallLadder"}


def test_every_registered_driver_is_covered():
    assert {slug for slug, _ in VARIANTS} == set(REGISTRY)


@contextlib.contextmanager
def device_for(slug, variant):
    """(driver, seen) where seen() lists what the far end received as (kind, door)."""
    if slug == "simulator":
        driver = get_driver("simulator", 9101, {})
        sim = driver.sim
        sim.opened.clear()
        sim.lift_calls.clear()
        yield driver, lambda: [("open", d) for d in sim.opened] + [("call_lift", d) for d in sim.lift_calls]
        sim_reset()
    elif slug == "isapi":
        fake = FakeIsapiDevice().start()
        driver = get_driver("isapi", 9102, {"url": fake.url, "username": "admin", "password": "Hik12345",
                                            "timezone": "Asia/Shanghai", "kind": variant, "timeout": 1})
        inverse = {v: k for k, v in ISAPI_CMD.items()}
        try:
            yield driver, lambda: [(inverse.get(cmd, cmd), door) for door, cmd in fake.opened]
        finally:
            driver.close()
            fake.stop()
    elif slug == "mqtt":
        skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
        topic = unique_topic("commands")
        proc = DeviceProcess(MQTT_URL, "--topic", topic)
        probe = Probe(MQTT_URL)
        driver = get_driver("mqtt", 9103, {"url": MQTT_URL, "topic": topic, "doorip": "10.0.0.1", "timeout": 2})
        try:
            yield driver, lambda: [("open", None)] * probe.state(topic)["opened"]
        finally:
            driver.close()
            probe.close()
            proc.stop()
    elif slug == "osdp":
        import osdp
        from test_drivers_osdp import Gate

        gate = Gate()
        assert gate.driver.wait_online(5)
        try:
            yield gate.driver, lambda: [("open", c.get("output_no")) for c in gate.commands(1, window=0.5)
                                        if c["command"] == osdp.Command.Output]
        finally:
            gate.close()


@pytest.mark.integration
@pytest.mark.parametrize("kind", sorted(COMMANDS))
@pytest.mark.parametrize(("slug", "variant"), VARIANTS)
def test_command_kind_reaches_the_device_as_that_kind(slug, variant, kind):
    with device_for(slug, variant) as (driver, seen):
        declared = COMMANDS[kind] in driver.capabilities
        out = rc.run_job(driver, rc.Job(1, commands=[(77, kind, 5, "visitor at the lobby")]))
        assert out.error is None
        if declared:
            assert out.commands == [(77, None)]
            got = seen()
            assert len(got) == 1 and got[0][0] == kind
        else:  # refused with a reason; above all, never turned into some other command
            assert out.commands[0][0] == 77 and out.commands[0][1]
            assert seen() == []


def test_isapi_lift_call_and_door_open_send_the_documented_payloads():
    fake = FakeIsapiDevice().start()
    try:
        opts = {"url": fake.url, "username": "admin", "password": "Hik12345", "timezone": "Asia/Shanghai", "timeout": 1}
        lift = get_driver("isapi", 1, {**opts, "kind": "elevator"})
        door = get_driver("isapi", 2, {**opts, "kind": "door"})
        # The reason text is free text from the desk: "call" in it must not make an open a lift call, nor the reverse.
        rc.run_job(lift, rc.Job(1, commands=[(1, "call_lift", 5, "open"), (2, "open", 3, "call")]))
        rc.run_job(door, rc.Job(2, commands=[(3, "open", 2, "call"), (4, "call_lift", 2, "call")]))
        assert fake.opened == [(5, "visitorCallLadder"), (3, "open"), (2, "open")]
        for cmd in ISAPI_CMD.values():
            assert problems("remotecontrol_door", {"RemoteControlDoor": {"cmd": cmd}}) == []
    finally:
        fake.stop()
