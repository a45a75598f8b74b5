"""One contract for every driver: the same scenarios against each driver's real peer or protocol fake.

A driver that declares a capability (portal.devices.drivers, where the planner reads it too) must carry out
that capability's scenarios; one that does not must be refused before anything reaches its device.
Peers: the in-process simulator, esp-rfid over a real Mosquitto, the Digest-authenticated ISAPI fake and
libosdp's own peripheral device. Refused logins are DeviceAuthFailed where the protocol says why (HTTP 401,
MQTT CONNACK, the simulator, and OSDP's secure-channel handshake failing before the reader was ever online).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from conftest import skip_unless
from drivers_support import MOSQUITTO, MQTT_URL, DeviceProcess, Probe, _wait_port, free_port, reachable, unique_topic
from fakes.isapi_fake import FakeIsapiDevice

from access_bridge import reconciler as rc
from access_bridge import state
from access_bridge.drivers import get_driver
from access_bridge.drivers.base import (
    REGISTRY,
    Capability,
    Credential,
    DeviceAuthFailed,
    DeviceUnreachable,
    DriverError,
)
from access_bridge.drivers.simulator import reset as sim_reset
from portal.devices.drivers import COMMANDS, SPECS
from portal.events.models import REASONS

VARIANTS = [("simulator", None), ("mqtt", None), ("osdp", None), ("isapi", "door"), ("isapi", "face"), ("isapi", "elevator")]
IDS = [slug if variant is None else f"{slug}-{variant}" for slug, variant in VARIANTS]
HOLDS = Capability.CARD | Capability.PIN | Capability.FACE | Capability.PLATE  # what makes a credential worth pushing
NOW = datetime.now(UTC).replace(microsecond=0)
CARD = "12345678"
ISAPI_LOGIN = {"username": "admin", "password": "Hik12345", "timezone": "Asia/Shanghai", "timeout": 1, "poll_interval": 0.01}


def cred(caps: Capability) -> Credential:
    """The credential the planner would hand this driver for pass 42."""
    return Credential(
        key="V42",
        pass_id=42,
        version=1,
        name="Visitor V42",
        valid_from=NOW - timedelta(hours=1),
        valid_until=NOW + timedelta(hours=8),
        card_no=CARD if Capability.CARD in caps else None,
        pin="48291337" if Capability.PIN in caps else None,
        floors=[3] if Capability.FLOORS in caps else [],
        doors=[1],
    )


def wait_for(predicate, timeout=3.0):
    """Poll until predicate() is truthy; return its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(0.02)
        value = predicate()
    return value


class Peer:
    """A driver and what its far end saw: held() keys (None: cannot tell), seen() commands as (kind, door).

    settle(driver) waits until a broken() driver has had the time a healthy one needs to come up.
    """

    auth_error: type[DriverError] = DeviceAuthFailed
    settle = staticmethod(lambda driver: None)

    def __init__(self, driver, held, seen, emit, broken, mode):
        self.driver, self.held, self.seen, self.emit, self.broken = driver, held, seen, emit, broken
        self.mode = mode  # what the far end's doors do: "normal" or "released" (held open for an emergency)


@contextlib.contextmanager
def simulator_peer(_variant):
    driver = get_driver("simulator", 9301, {})
    sim = driver.sim

    def emit():
        sim.emit("grant", "ok", key="V42", card_no=CARD)
        sim.emit("deny", "revoked", key="V42", card_no=CARD)

    @contextlib.contextmanager
    def broken(how):
        other = get_driver("simulator", 9302, {})
        if how == "unreachable":
            other.sim.go_offline()
        else:
            other.sim.come_back()  # one simulated device serves both breakages
            other.sim.fail_mode = "auth"
        yield other

    try:
        seen = lambda: [("open", d) for d in sim.opened] + [("call_lift", d) for d in sim.lift_calls]  # noqa: E731
        yield Peer(driver, sim.keys, seen, emit, broken, lambda: sim.mode)
    finally:
        sim_reset()


@contextlib.contextmanager
def isapi_peer(variant):
    fake = FakeIsapiDevice().start()
    doors = 2 if variant == "door" else 1  # a two-door controller: an emergency holds both open
    driver = get_driver("isapi", 9303, {"url": fake.url, **ISAPI_LOGIN, "kind": variant, "door_count": doors})
    kinds = {"open": "open", "visitorCallLadder": "call_lift"}
    held_open = {"alwaysOpen": "released", "close": "normal"}

    def mode():
        last = {door: cmd for door, cmd in fake.opened if cmd in held_open}
        states = {held_open[last[d]] if d in last else "normal" for d in range(1, doors + 1)}
        return states.pop() if len(states) == 1 else "mixed"

    def emit():
        fake.add_event(1, card_no=CARD, employee="V42")  # card ok
        fake.add_event(9, card_no="99999999")  # unknown card

    @contextlib.contextmanager
    def broken(how):
        url = f"http://127.0.0.1:{free_port()}" if how == "unreachable" else fake.url
        password = "wrong" if how == "auth" else ISAPI_LOGIN["password"]
        other = get_driver("isapi", 9304, {**ISAPI_LOGIN, "url": url, "password": password, "kind": variant})
        try:
            yield other
        finally:
            other.close()

    try:
        seen = lambda: [(kinds.get(cmd, cmd), door) for door, cmd in fake.opened if cmd not in held_open]  # noqa: E731
        yield Peer(driver, lambda: set(fake.persons), seen, emit, broken, mode)
    finally:
        driver.close()
        fake.stop()


@contextlib.contextmanager
def login_refusing_broker(tmp_path):
    """A Mosquitto of our own that accepts only user "bridge" with another password than the one we give."""
    skip_unless(MOSQUITTO, "mosquitto is not installed")
    port = free_port()
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "bridge", "right-password"], check=True, capture_output=True)
    passwd.chmod(0o600)
    config = tmp_path / "mosquitto.conf"
    # As root, Mosquitto would drop to its own user, who cannot read a file under tmp_path.
    user = "user root\n" if os.geteuid() == 0 else ""
    config.write_text(f"{user}listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, True)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(5)


@contextlib.contextmanager
def mqtt_peer(_variant, tmp_path):
    skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
    topic = unique_topic("contract")
    proc = DeviceProcess(MQTT_URL, "--topic", topic)
    probe = Probe(MQTT_URL)
    driver = get_driver("mqtt", 9305, {"url": MQTT_URL, "topic": topic, "doorip": "10.0.0.1", "timeout": 2})

    def held():
        return {user["user"] for user in probe.state(topic)["users"].values()}

    def emit():
        probe.control(topic, cmd="swipe", uid=CARD)
        probe.control(topic, cmd="swipe", uid="99999999")

    @contextlib.contextmanager
    def broken(how):
        with contextlib.ExitStack() as stack:
            if how == "unreachable":
                options = {"url": f"mqtt://127.0.0.1:{free_port()}"}
            else:
                options = {
                    "url": stack.enter_context(login_refusing_broker(tmp_path)),
                    "username": "bridge",
                    "password": "wrong-password",
                }
            other = get_driver("mqtt", 9306, {**options, "topic": unique_topic("contract"), "timeout": 1})
            stack.callback(other.close)
            yield other

    try:
        seen = lambda: [("open", None)] * probe.state(topic)["opened"]  # noqa: E731
        yield Peer(driver, held, seen, emit, broken, lambda: probe.state(topic)["mode"])
    finally:
        driver.close()
        probe.close()
        proc.stop()


@contextlib.contextmanager
def osdp_peer(_variant):
    import osdp
    from test_drivers_osdp import Gate

    gate = Gate()
    assert gate.driver.wait_online(5)

    def emit():
        gate.verdict = (True, "ok")
        gate.card(b"compact-token-1")
        gate.wait_decisions(1)
        gate.verdict = (False, "revoked")
        gate.card(b"compact-token-2")
        gate.wait_decisions(2)

    @contextlib.contextmanager
    def broken(how):
        other = Gate(scbk="00" * 16) if how == "auth" else Gate()
        other.reachable = how != "unreachable"
        try:
            yield other.driver
        finally:
            other.close()

    def settle(driver):
        assert not driver.wait_online(1)  # with the right key and a cable this takes about 0.5 s

    strike = {"state": "normal"}

    def mode():
        # Output control codes: 2 permanent on (held open), 1 permanent off (back to normal); 5 is a timed pulse.
        for c in gate.commands(1, window=0.5):
            if c["command"] == osdp.Command.Output and c["control_code"] in (1, 2):
                strike["state"] = "released" if c["control_code"] == 2 else "normal"
        return strike["state"]

    peer = Peer(
        gate.driver,
        lambda: None,
        lambda: [("open", c.get("output_no")) for c in gate.commands(1, window=0.5) if c["command"] == osdp.Command.Output],
        emit,
        broken,
        mode,
    )
    peer.settle = settle
    try:
        yield peer
    finally:
        gate.close()


@pytest.fixture(params=VARIANTS, ids=IDS)
def peer(request, tmp_path):
    """Every driver (ISAPI once per device family) against its far end."""
    slug, variant = request.param
    if slug == "mqtt":
        request.applymarker(pytest.mark.integration)
        made = mqtt_peer(variant, tmp_path)
    else:
        made = {"simulator": simulator_peer, "isapi": isapi_peer, "osdp": osdp_peer}[slug](variant)
    with made as p:
        yield p


def test_every_registered_driver_is_in_the_contract():
    assert {slug for slug, _ in VARIANTS} == set(REGISTRY) == set(SPECS)


@pytest.mark.parametrize(("slug", "variant"), VARIANTS, ids=IDS)
def test_the_planner_reads_capabilities_where_the_driver_declares_them(slug, variant):
    spec = SPECS[slug]
    assert REGISTRY[slug].capabilities == spec.capabilities == state.capabilities(SimpleNamespace(driver=slug))
    if variant is not None:
        driver = get_driver(slug, 1, {"url": "http://127.0.0.1:9", **ISAPI_LOGIN, "kind": variant})
        assert driver.capabilities == spec.capabilities_for({"kind": variant})
        driver.close()


# -- credentials: add, list, revoke --------------------------------------------------------------------------------
def test_add_list_revoke(peer):
    caps = peer.driver.capabilities
    if not caps & HOLDS:
        # Nothing worth pushing: the planner makes no credential for such a device, so nothing is sent.
        device = SimpleNamespace(kind="gate_reader", doors=[])
        pass_ = SimpleNamespace(
            id=42,
            version=1,
            valid_from=NOW,
            valid_until=NOW + timedelta(hours=1),
            schedule=None,
            plate=None,
            max_entries=None,
            uses=0,
        )
        assert state.credential_for(device, pass_, [], caps, {}) is None
        assert peer.driver.keys() is None
        return
    out = rc.run_job(peer.driver, rc.Job(1, ops=[rc.Op(1, 1, "V42", "upsert", cred(caps))]))
    assert out.error is None and out.results[0][1] is None
    assert "V42" in peer.held()
    assert peer.driver.keys() == {"V42"}
    out = rc.run_job(peer.driver, rc.Job(1, ops=[rc.Op(1, 2, "V42", "revoke"), rc.Op(1, 3, "V42", "revoke")]))
    assert out.error is None and [exc for _, exc in out.results] == [None, None]  # revoking twice is fine
    assert "V42" not in peer.held()
    assert peer.driver.keys() == set()


# -- commands: open door, call lift --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(COMMANDS))
def test_command(peer, kind):
    out = rc.run_job(peer.driver, rc.Job(1, commands=[(7, kind, 3, "visitor at the lobby")]))
    assert out.error is None
    if COMMANDS[kind] in peer.driver.capabilities:
        assert out.commands == [(7, None)]
        assert [k for k, _ in wait_for(peer.seen)] == [kind]
    else:  # refused with a reason, and nothing reached the device
        assert out.commands[0][0] == 7 and "cannot" in out.commands[0][1]
        assert peer.seen() == []


# -- emergency release: doors held open, then back to normal ------------------------------------------------------
def test_emergency_release_and_restore(peer):
    release = rc.run_job(peer.driver, rc.Job(1, emergency=(5, "release")))
    if Capability.EMERGENCY_RELEASE not in peer.driver.capabilities:
        row, mode, error = release.emergency
        assert (row, mode) == (5, "release") and "cannot" in error
        assert peer.mode() == "normal"  # nothing reached the device
        return
    assert release.emergency == (5, "release", None)
    assert wait_for(lambda: peer.mode() == "released")
    restore = rc.run_job(peer.driver, rc.Job(1, emergency=(6, "restore")))
    assert restore.emergency == (6, "restore", None)
    assert wait_for(lambda: peer.mode() == "normal")


# -- access events -------------------------------------------------------------------------------------------------
def test_events(peer):
    assert Capability.EVENTS in peer.driver.capabilities  # every driver reports events; one that did not is never asked
    if peer.driver.capabilities & Capability.CARD:
        peer.driver.upsert(cred(peer.driver.capabilities))  # a known card, so the device grants
    peer.emit()
    events = wait_for(lambda: len(peer.driver.events(0)) >= 2 and peer.driver.events(0))
    assert [e.decision for e in events] == ["grant", "deny"]
    assert events[0].reason == "ok" and events[1].reason in REASONS and events[1].reason != "ok"
    assert events[0].serial < events[1].serial
    assert peer.driver.events(events[-1].serial) == []


# -- faults ----------------------------------------------------------------------------------------------------------
def _attempt(driver, probe=True):
    """What the bridge does with a device: probe it (new or failing devices), then push or command what it supports."""
    caps = driver.capabilities
    job = rc.Job(
        1,
        probe=probe,
        commands=[(1, "open", 1, "test")] if Capability.REMOTE_OPEN in caps else [],
        ops=[rc.Op(1, 1, "V42", "upsert", cred(caps))] if caps & HOLDS else [],
    )
    return rc.run_job(driver, job)


def test_unreachable(peer):
    with peer.broken("unreachable") as driver:
        peer.settle(driver)
        out = _attempt(driver)
    assert isinstance(out.error, DeviceUnreachable)


def test_connection_test_says_why(peer):
    """The device page's "test connection": a healthy device passes, a refused login is not called offline."""
    peer.driver.check()
    for how, error in (("unreachable", DeviceUnreachable), ("auth", peer.auth_error)):
        # No settle(): check() itself waits longer than a healthy device needs before it calls one unreachable.
        with peer.broken(how) as driver, pytest.raises(error):
            driver.check()


def test_login_refused(peer):
    with peer.broken("auth") as driver:
        peer.settle(driver)
        assert driver.health() is not True or driver.slug == "simulator"  # the simulator's device still answers
        out = _attempt(driver, probe=False)  # the push or command itself says why
    assert isinstance(out.error, peer.auth_error), out.error
