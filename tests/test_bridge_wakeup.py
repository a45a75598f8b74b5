"""On SQLite the portal wakes a running bridge after commit (a datagram), so a revocation reaches a device in < 100 ms."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest
from bridge_support import add_device, flask, subprocess_env

from access_bridge.drivers import simulator
from portal.core import wake

ROUNDS = 8
BOUND = 0.1  # seconds, from the revoke's commit (its response) until the device no longer holds the credential


def _held(path):
    try:
        return set(simulator.read_state_file(path))
    except (json.JSONDecodeError, OSError):  # caught mid-write
        return None


def _gone(path, key, seen={}):  # noqa: B006 - remembers the file's last mtime between calls
    """True once the device's state file no longer holds key; re-reads the file only when it changed."""
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return False
    if seen.get(path) == stamp:
        return False
    held = _held(path)
    if held is None:
        return False
    seen[path] = stamp
    return key not in held


def _wait(predicate, timeout, every=0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def test_poke_without_a_listening_bridge_is_harmless(tmp_path):
    assert wake.poke(str(tmp_path / "nobody.sock")) is False


def test_socket_path_is_per_database_and_short(tmp_path):
    deep = tmp_path / ("x" * 120)
    a, b = wake.socket_path("sqlite:///a.db", str(deep)), wake.socket_path("sqlite:///b.db", str(deep))
    assert a != b and len(a.encode()) <= wake.MAX_UNIX_PATH


@pytest.mark.serial
@pytest.mark.alone
def test_revocation_through_the_portal_reaches_a_running_bridge_within_100ms(app, world, client, tmp_path):
    app.instance_path = str(tmp_path)  # the bridge child's INSTANCE_PATH: both find the same socket
    state = tmp_path / "gate.json"
    add_device(world, "gate", state_file=str(state))
    passes = [world.make_pass() for _ in range(ROUNDS)]
    keys = {f"V{p.id}" for p in passes}
    headers = world.token(world.r1)
    sock = wake.socket_path(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path))
    bridge = flask("bridge", "run", "--poll", "0.25", env=subprocess_env(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path))
    try:
        assert _wait(lambda: (_held(state) or set()) >= keys, 30, 0.05), "the bridge never pushed the passes"
        assert _wait(lambda: os.path.exists(sock), 5, 0.01), "the bridge does not listen for wake-ups"
        figures = []
        for p in passes:
            time.sleep(random.uniform(0.03, 0.25))  # land anywhere in the bridge's quarter-second poll (2.5x the bound)
            start = time.monotonic()
            resp = client.post(f"/api/v1/passes/{p.id}/revoke", json={"reason": "left early"}, headers=headers)
            answered = time.monotonic()
            assert resp.status_code == 200, resp.get_json()
            assert _wait(lambda key=f"V{p.id}": _gone(state, key), 3), f"V{p.id} never revoked"
            seen = time.monotonic()
            figures.append((seen - start, seen - answered))
        print(
            "revoke -> device (ms, from request / from response):",
            ", ".join(f"{a * 1000:.0f}/{b * 1000:.0f}" for a, b in figures),
            f"max {max(b for _, b in figures) * 1000:.0f} ms after the response",
        )
        after = sorted(b for _, b in figures)
        if os.getloadavg()[0] < (os.cpu_count() or 1):
            assert after[-1] < BOUND
        else:  # an overloaded machine (other test runs) may stall one round; polling alone would miss most rounds
            print(f"load average {os.getloadavg()[0]:.1f}: bound checked on all rounds but the worst")
            assert after[-2] < BOUND and after[-1] < 5 * BOUND
    finally:
        bridge.send_signal(signal.SIGINT)
        try:
            bridge.wait(10)
        except Exception:
            bridge.kill()
