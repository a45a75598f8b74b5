"""Reconciliation against simulated devices: push, revoke first, retry, offline and back, versioned acks."""

from bridge_support import add_device, expected_keys, fresh_simulators, rows, run_bridge, skip_backoff  # noqa: F401
from sqlalchemy import select

from access_bridge import reconciler as rc
from access_bridge.drivers import simulator
from portal.bridge.models import DeviceCredential
from portal.devices.models import Device, DeviceCommand
from portal.extensions import db
from portal.passes.operations import revoke_pass


def test_live_passes_reach_the_device_and_revocations_leave_it(app, world):
    device = add_device(world, "gate")
    a, b = world.make_pass(), world.make_pass()
    run_bridge(app)
    sim = simulator.device(device.id)
    assert sim.keys() == expected_keys(a, b)
    assert all(r.status == "ok" and r.acked_state == "present" for r in rows(device.id).values())
    assert db.session.get(Device, device.id).status == "online"

    revoke_pass(a)
    c = world.make_pass()
    db.session.commit()
    run_bridge(app)
    assert sim.keys() == expected_keys(b, c)
    # The revocation went out before the new pass in the same push.
    last = sim.log[-2:]
    assert last == [("revoke", f"V{a.id}"), ("upsert", f"V{c.id}")]
    assert rows(device.id)[f"V{a.id}"].desired == "absent"


def test_an_old_ack_never_marks_a_newer_desired_state_done(app, world):
    device = add_device(world, "gate")
    p = world.make_pass()
    run_bridge(app)
    row = rows(device.id)[f"V{p.id}"]
    old_gen = row.desired_version
    revoke_pass(p)
    db.session.commit()
    rc.plan(db.session, [db.session.get(Device, device.id)])
    db.session.commit()
    row = rows(device.id)[f"V{p.id}"]
    assert row.desired == "absent" and row.desired_version == old_gen + 1
    # A late ack of the earlier add arrives after the revocation was planned.
    simulator.device(device.id).credentials[f"V{p.id}"] = {"late": True}
    assert rc.record_ack(db.session, row.id, old_gen, "upsert") is False
    db.session.commit()
    row = rows(device.id)[f"V{p.id}"]
    assert row.status != "ok" and row.desired == "absent"
    skip_backoff(device.id)
    run_bridge(app)
    assert f"V{p.id}" not in simulator.device(device.id)
    row = rows(device.id)[f"V{p.id}"]
    assert (row.status, row.acked_state, row.acked_version) == ("ok", "absent", old_gen + 1)
    # Nothing brings it back: more runs, a restart of the worker, a resync.
    from portal.devices.operations import resync_device

    resync_device(db.session.get(Device, device.id))
    db.session.commit()
    run_bridge(app)
    assert f"V{p.id}" not in simulator.device(device.id)


def test_unreachable_device_goes_offline_and_catches_up_when_back(app, world):
    device = add_device(world, "door", kind="door_controller")
    keep, gone = world.make_pass(), world.make_pass()
    run_bridge(app)
    sim = simulator.device(device.id)
    sim.go_offline()
    revoke_pass(gone)
    new = world.make_pass()
    db.session.commit()
    run_bridge(app)
    skip_backoff(device.id)
    run_bridge(app)
    assert db.session.get(Device, device.id).status == "offline"
    r = rows(device.id)
    assert r[f"V{gone.id}"].status != "ok" and r[f"V{new.id}"].status != "ok"
    assert "unreachable" in (r[f"V{gone.id}"].last_error or "").lower() or r[f"V{gone.id}"].attempts >= 1
    # While offline the device lost its memory too (power cut); when it answers it is caught up.
    sim.credentials.clear()
    sim.come_back()
    skip_backoff(device.id)
    run_bridge(app)
    assert sim.keys() == expected_keys(keep, new)
    assert db.session.get(Device, device.id).status == "online"
    assert {r.status for r in rows(device.id).values()} == {"ok"}


def test_backoff_spreads_and_is_capped():
    delays = [rc.backoff(n).total_seconds() for n in range(1, 30)]
    assert delays[0] <= 1.0 and max(delays) <= rc.BACKOFF_CAP
    assert rc.backoff(6).total_seconds() > rc.backoff(1).total_seconds()


def test_rejected_credential_is_failed_with_its_reason_until_retried(app, world):
    from portal.devices.operations import retry_failed

    device = add_device(world, "face", kind="face_terminal")
    sim = simulator.device(device.id)
    sim.fail_mode = "reject"
    p = world.make_pass()
    run_bridge(app)
    row = rows(device.id)[f"V{p.id}"]
    assert row.status == "failed" and "rejected" in row.last_error and row.next_attempt_at is None
    sim.fail_mode = None
    run_bridge(app)
    assert sim.keys() == set()  # not retried on its own: the same push would be refused again
    retry_failed(db.session.get(Device, device.id))
    db.session.commit()
    run_bridge(app)
    assert sim.keys() == expected_keys(p)


def test_wrong_password_marks_the_device_failed(app, world):
    device = add_device(world, "lift", kind="elevator_controller")
    simulator.device(device.id).fail_mode = "auth"
    world.make_pass()
    run_bridge(app)
    assert db.session.get(Device, device.id).status == "failed"


def test_remote_open_is_carried_out_once_and_stale_ones_are_dropped(app, world):
    from datetime import timedelta

    from portal.core.timeutil import utcnow

    device = add_device(world, "gate")
    fresh = DeviceCommand(device_id=device.id, kind="open", door=1, reason="courier")
    stale = DeviceCommand(device_id=device.id, kind="open", door=2, reason="old", created_at=utcnow() - timedelta(minutes=5))
    db.session.add_all([fresh, stale])
    db.session.commit()
    run_bridge(app)
    run_bridge(app)
    assert simulator.device(device.id).opened == [1]
    db.session.expire_all()
    assert (fresh.status, stale.status) == ("done", "failed")


def test_removed_device_is_wiped_before_it_goes(app, world):
    from portal.devices.operations import remove_device

    device = add_device(world, "gate")
    world.make_pass()
    run_bridge(app)
    sim = simulator.device(device.id)
    assert sim.keys()
    remove_device(device)
    db.session.commit()
    run_bridge(app)
    assert sim.keys() == set()
    assert db.session.get(Device, device.id).status == "removed"
    add_device(world, "gate")  # the name is free again


def test_resync_repushes_and_deletes_only_our_strays(app, world):
    from portal.devices.operations import resync_device

    device = add_device(world, "gate")
    p = world.make_pass()
    run_bridge(app)
    sim = simulator.device(device.id)
    sim.credentials.clear()
    sim.credentials.update({"V99999": {}, "RESIDENT-7": {}})
    resync_device(device)
    db.session.commit()
    run_bridge(app)
    run_bridge(app)
    assert sim.keys() == expected_keys(p) | {"RESIDENT-7"}


def test_device_events_land_in_the_access_event_table(app, world):
    from portal.events.models import AccessEvent

    device = add_device(world, "gate")
    p = world.make_pass()
    run_bridge(app)
    sim = simulator.device(device.id)
    sim.emit(key=f"V{p.id}")
    sim.emit(decision="deny", reason="unknown", key=None)
    run_bridge(app)
    run_bridge(app)  # a replay adds nothing
    events = list(db.session.scalars(select(AccessEvent).where(AccessEvent.device_id == device.id)))
    assert sorted(e.device_serial for e in events) == [1, 2]
    assert {e.pass_id for e in events if e.decision == "grant"} == {p.id}


def test_slow_device_does_not_hold_up_the_others(app, world):
    import time

    from access_bridge.worker import Worker

    slow, fast = add_device(world, "slow"), add_device(world, "fast")
    simulator.device(slow.id).delay = 1.0
    world.make_pass()
    worker = Worker(app, threads=4, plan_every=0)
    try:
        worker.step()
        started = time.monotonic()
        while time.monotonic() - started < 0.8 and not simulator.device(fast.id).keys():
            time.sleep(0.01)
        assert simulator.device(fast.id).keys() and not simulator.device(slow.id).keys()
    finally:
        worker.close()
    assert db.session.scalar(select(DeviceCredential.id).where(DeviceCredential.device_id == slow.id))
