"""ISAPI carries out desk commands as the documented payloads.

Every driver against every command kind (carried out as that kind when declared, refused otherwise) is in
tests/test_drivers_contract.py.
"""

from __future__ import annotations

from fakes.isapi_fake import FakeIsapiDevice
from fakes.isapi_shapes import problems

from access_bridge import reconciler as rc
from access_bridge.drivers import get_driver

# What the device must have seen for each command kind: the documented payload, not a guess from the reason text.
ISAPI_CMD = {"open": "open", "call_lift": "visitorCallLadder"}


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
