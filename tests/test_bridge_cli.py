"""The command line: devices add|list|remove|resync and bridge run --once|status."""

import json

from bridge_support import fresh_simulators  # noqa: F401
from sqlalchemy import select, text

from access_bridge.drivers import simulator
from portal.audit.models import AuditEntry
from portal.devices.models import Device
from portal.extensions import db


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def add(app, name, *extra, kind="gate_reader", options="{}"):
    return cli(
        app,
        "devices",
        "add",
        "--site",
        "sunny",
        "--name",
        name,
        "--kind",
        kind,
        "--driver",
        "simulator",
        "--options",
        options,
        *extra,
    )


def test_add_list_and_status(app, world):
    r = add(app, "Main gate reader", options='{"gates": ["MAIN"], "password": "s3cret-pw"}')
    assert r.exit_code == 0, r.output
    created = json.loads(r.output.strip().splitlines()[-1])
    assert created["gate_ids"] == [world.gate.id]
    r = add(app, "Lift A", "--building", "A", "--floors", "1-18", kind="elevator_controller")
    assert r.exit_code == 0, r.output
    lift = db.session.scalar(select(Device).where(Device.name == "Lift A"))
    assert lift.floors == list(range(1, 19)) and lift.building_id == world.bldg_a.id
    # The driver password is encrypted at rest and kept out of the audit trail.
    raw = db.session.execute(text("SELECT options FROM devices WHERE id = :i"), {"i": created["id"]}).scalar()
    assert b"s3cret-pw" not in bytes(raw)
    assert db.session.get(Device, created["id"]).options == {"password": "s3cret-pw"}
    audits = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "device.add")))
    assert len(audits) == 2 and all(a.actor_kind == "system" for a in audits)
    assert "s3cret-pw" not in json.dumps([a.details for a in audits])

    listing = cli(app, "devices", "list")
    assert "Main gate reader" in listing.output and "whole site" not in listing.output.split("Main gate reader")[1].split("\n")[0]
    rows = json.loads(cli(app, "devices", "list", "--json").output)["devices"]
    assert {r["name"] for r in rows} == {"Main gate reader", "Lift A"}

    world.make_pass()
    assert cli(app, "bridge", "run", "--once").exit_code == 0
    status = json.loads(cli(app, "bridge", "status", "--json").output)["devices"]
    by_name = {r["name"]: r for r in status}
    assert by_name["Main gate reader"]["sync"] == "online"
    assert by_name["Main gate reader"]["credentials"] == {"ok": 1, "pending": 0, "failed": 0}
    assert "Lift A" in cli(app, "bridge", "status").output


def test_whole_site_device_has_no_narrower_option(app, world):
    r = add(app, "Lobby face", kind="face_terminal")
    assert r.exit_code == 0, r.output
    assert "whole site" in cli(app, "devices", "list").output


def test_bad_input_is_refused_with_a_reason(app, world):
    cases = [
        (("x",), {"kind": "toaster"}, "Kind must be one of"),
        (("x",), {"options": '{"gates": ["NOPE"]}'}, "Unknown gate"),
        (("x",), {"options": "not json"}, "not JSON"),
        (("x",), {"options": "[1]"}, "JSON object"),
    ]
    for (name,), kw, message in cases:
        r = add(app, name, **kw)
        assert r.exit_code != 0 and message in r.output, (kw, r.output)
    assert add(app, "dup").exit_code == 0
    r = add(app, "dup")
    assert r.exit_code != 0 and "already exists" in r.output
    r = cli(app, "devices", "add", "--site", "sunny", "--name", "y", "--kind", "gate_reader", "--driver", "telnet")
    assert r.exit_code != 0 and "Unknown driver" in r.output


def test_remove_wipes_then_removes(app, world):
    add(app, "gate")
    world.make_pass()
    cli(app, "bridge", "run", "--once")
    device = db.session.scalar(select(Device).where(Device.name == "gate"))
    assert simulator.device(device.id).keys()
    r = cli(app, "devices", "remove", "gate", "--site", "sunny")
    assert r.exit_code == 0, r.output
    assert cli(app, "devices", "remove", "gate", "--site", "sunny").exit_code != 0  # already gone from the list
    cli(app, "bridge", "run", "--once")
    assert simulator.device(device.id).keys() == set()
    db.session.expire_all()
    assert db.session.get(Device, device.id).status == "removed"
    assert "gate" not in [r["name"] for r in json.loads(cli(app, "devices", "list", "--json").output)["devices"]]
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "device.remove")) is not None


def test_resync_pushes_everything_again(app, world):
    add(app, "gate")
    p = world.make_pass()
    cli(app, "bridge", "run", "--once")
    device = db.session.scalar(select(Device).where(Device.name == "gate"))
    simulator.device(device.id).credentials.clear()
    r = cli(app, "devices", "resync", "gate", "--site", "sunny")
    assert r.exit_code == 0, r.output
    cli(app, "bridge", "run", "--once")
    assert simulator.device(device.id).keys() == {f"V{p.id}"}
    assert cli(app, "devices", "resync", "nope", "--site", "sunny").exit_code != 0


def test_removed_device_gets_no_new_token_and_old_ones_stop(app, world):
    from portal.devices.operations import remove_device

    device, header = world.device(name="lost-reader")
    client = app.test_client()
    mh = world.token(world.manager)
    with app.test_request_context():
        remove_device(db.session.get(Device, device.id))
        db.session.commit()
    assert client.post("/api/v1/gate/verify", json={"code": "12345678901"}, headers=header).status_code == 401
    assert client.post(f"/api/v1/devices/{device.id}/tokens", json={}, headers=mh).status_code == 404
