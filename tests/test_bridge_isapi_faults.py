"""A Hikvision terminal (the ISAPI protocol fake) goes off the network and comes back: it converges."""

import pytest
from bridge_support import add_device, expected_keys, fresh_simulators, rows, run_bridge, skip_backoff  # noqa: F401
from fakes.isapi_fake import FakeIsapiDevice

from portal.devices.models import Device
from portal.extensions import db
from portal.passes.operations import revoke_pass


@pytest.fixture
def terminal():
    """A running fake face terminal."""
    device = FakeIsapiDevice(delete_polls=1).start()
    yield device
    device.stop()


def test_isapi_terminal_unreachable_then_back_converges(app, world, terminal):
    device = add_device(
        world,
        "lobby-face",
        kind="face_terminal",
        driver="isapi",
        url=terminal.url,
        username="admin",
        password="Hik12345",
        timezone="Asia/Shanghai",
        timeout=0.5,
        poll_interval=0.01,
    )
    keep, gone = world.make_pass(), world.make_pass()
    run_bridge(app)
    assert set(terminal.persons) == expected_keys(keep, gone)
    assert terminal.persons[f"V{keep.id}"]["Valid"]["enable"] is True

    terminal.stop()  # off the network
    with app.test_request_context():
        revoke_pass(gone)
        db.session.commit()
    new = world.make_pass()
    run_bridge(app)
    skip_backoff(device.id)
    run_bridge(app)
    assert db.session.get(Device, device.id).status == "offline"
    assert rows(device.id)[f"V{gone.id}"].status != "ok"
    assert f"V{gone.id}" in terminal.persons  # still there: the device could not be told

    terminal.start()  # back, same port
    for _ in range(5):  # a loaded machine can miss the 0.5-s time-out once more: the next pass retries what failed
        skip_backoff(device.id)
        run_bridge(app)
        if set(terminal.persons) == expected_keys(keep, new):
            break
    assert set(terminal.persons) == expected_keys(keep, new)
    assert f"V{gone.id}" not in terminal.persons
    assert db.session.get(Device, device.id).status == "online"
    assert {r.status for r in rows(device.id).values()} == {"ok"}
