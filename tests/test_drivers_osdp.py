"""The OSDP control-panel driver against libosdp's own PeripheralDevice over a socket pair, secure channel on."""

from __future__ import annotations

import socket
import time

import osdp
import pytest

from access_bridge.drivers import get_driver
from access_bridge.drivers.base import Capability, DeviceUnreachable, DriverError
from access_bridge.drivers.osdp import OsdpDriver
from access_bridge.drivers.osdp_channel import SocketChannel

CAPS_LIST = [(osdp.Capability.OutputControl, 1, 1), (osdp.Capability.LEDControl, 1, 1), (osdp.Capability.AudibleControl, 1, 1)]
CAPS = osdp.PDCapabilities(CAPS_LIST)


class Gate:
    """A libosdp reader at the far end of a socket pair that the driver can reconnect to."""

    def __init__(self, verdict=(True, "ok"), caps=None, **options):
        self.key = osdp.KeyStore.gen_key()
        self.channel = SocketChannel()
        self.reachable = True
        self.decisions = []
        self.verdict = verdict
        self.pd = osdp.PeripheralDevice(
            osdp.PDInfo(1, self.channel, scbk=self.key, flags=[osdp.LibFlag.EnforceSecure]),
            caps or CAPS,
            log_level=osdp.LogLevel.Emergency,
        )
        self.pd.start()
        opts = {"scbk": self.key.hex(), "address": 1, "pulse_seconds": 2, "log_level": "Emergency", **options}
        self.driver = OsdpDriver(11, opts, connect=self.connect, on_credential=self.decide)

    def connect(self) -> socket.socket:
        if not self.reachable:
            raise ConnectionRefusedError("reader unplugged")
        ours, theirs = socket.socketpair()
        self.channel.drop()
        self.channel.attach(theirs)
        return ours

    def decide(self, kind, data, reader):
        self.decisions.append((kind, data, reader))
        return self.verdict

    def commands(self, count: int, window: float = 2.0) -> list[dict]:
        """Commands the reader received (notifications aside), until count arrive or the window closes."""
        got, deadline = [], time.monotonic() + window
        while len(got) < count and time.monotonic() < deadline:
            cmd = self.pd.get_command(timeout=0.05)
            if cmd is not None:
                got.append(cmd)
        return got

    def card(self, data: bytes) -> None:
        self.pd.submit_event(
            {
                "event": osdp.Event.CardRead,
                "reader_no": 0,
                "direction": 0,
                "format": osdp.CardFormat.Unspecified,
                "length": 8 * len(data),
                "data": data,
            }
        )

    def keys(self, text: bytes) -> None:
        self.pd.submit_event({"event": osdp.Event.KeyPress, "reader_no": 0, "data": text})

    def wait_decisions(self, count: int, timeout: float = 2.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.decisions) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.decisions

    def close(self):
        self.driver.close()
        self.pd.teardown()
        self.channel.drop()


@pytest.fixture
def gate():
    """A reader online with the driver, secure channel up."""
    g = Gate()
    assert g.driver.wait_online(5)
    yield g
    g.close()


def test_scbk_is_required_and_registered_by_slug():
    assert get_driver("osdp", 1, {"scbk": "00" * 16}).capabilities == (
        Capability.EDGE_DECISION | Capability.REMOTE_OPEN | Capability.EVENTS | Capability.ALARMS | Capability.EMERGENCY_RELEASE
    )
    with pytest.raises(DriverError):
        get_driver("osdp", 1, {"scbk": "abcd"})


def test_scanned_qr_bytes_reach_the_decision_and_a_grant_pulses_the_relay(gate):
    token = bytes(range(256))[:64]  # the full 64 bytes OSDP card data can carry, binary included
    gate.card(token)
    assert gate.wait_decisions(1) == [("card", token, 0)]
    got = gate.commands(3)
    assert [c["command"] for c in got] == [osdp.Command.Output, osdp.Command.LED, osdp.Command.Buzzer]
    assert (got[0]["output_no"], got[0]["control_code"], got[0]["timer_count"]) == (0, 5, 20)
    assert got[1]["on_color"] == osdp.CommandLEDColor.Green
    events = gate.driver.events(0)
    assert [(e.serial, e.decision, e.reason, e.method) for e in events] == [(1, "grant", "ok", "qr")]
    assert token not in repr(events[0].raw).encode()


def test_a_deny_shows_red_and_never_touches_the_relay(gate):
    gate.verdict = (False, "revoked")
    gate.card(b"V1.compact-token")
    gate.wait_decisions(1)
    got = gate.commands(3, window=1.0)
    assert [c["command"] for c in got] == [osdp.Command.LED, osdp.Command.Buzzer]
    assert got[0]["on_color"] == osdp.CommandLEDColor.Red and got[1]["rep_count"] == 3
    assert [(e.decision, e.reason) for e in gate.driver.events(7)] == [("deny", "revoked")]
    assert gate.driver.events(7)[0].serial == 8


def test_typed_digits_arrive_as_one_code(gate):
    gate.keys(b"12*")  # cleared
    gate.keys(b"4829")
    gate.keys(b"13#")
    assert gate.wait_decisions(1) == [("keys", "482913", 0)]
    assert gate.driver.events(0)[0].method == "code"


def test_fixed_length_codes_need_no_enter():
    g = Gate(code_length=11)
    try:
        assert g.driver.wait_online(5)
        g.keys(b"12345")
        g.keys(b"678901")
        assert g.wait_decisions(1) == [("keys", "12345678901", 0)]
    finally:
        g.close()


def test_a_failing_decision_denies():
    g = Gate()
    g.verdict = None  # unpacking fails inside the driver
    try:
        assert g.driver.wait_online(5)
        g.card(b"x")
        g.wait_decisions(1)
        assert [c["command"] for c in g.commands(2)] == [osdp.Command.LED, osdp.Command.Buzzer]
        assert g.driver.events(0)[0].reason == "error"
    finally:
        g.close()


def test_connection_test_of_an_unplugged_reader_says_why_at_once():
    """A refused connection is reported with its reason, not after the secure channel's three-second grace."""
    g = Gate()
    g.reachable = False
    try:
        started = time.monotonic()
        with pytest.raises(DeviceUnreachable, match="reader unplugged"):
            g.driver.check()
        assert time.monotonic() - started < 1
    finally:
        g.close()


def test_reader_offline_then_back_with_the_same_driver(gate):
    gate.driver.open()
    assert gate.commands(1)[0]["command"] == osdp.Command.Output
    gate.reachable = False
    gate.channel.drop()  # cable pulled
    deadline = time.monotonic() + 3
    while gate.driver.health() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gate.driver.health() is False
    with pytest.raises(DeviceUnreachable):
        gate.driver.open()
    gate.reachable = True
    assert gate.driver.wait_online(6)
    gate.card(b"after-reconnect")
    assert gate.wait_decisions(1) == [("card", b"after-reconnect", 0)]
    assert gate.commands(3)[0]["command"] == osdp.Command.Output
