"""Incremental planning: a change re-plans only the rows of the devices it concerns (counted), from the outbox."""

from concurrent.futures import wait

import pytest
from bridge_support import add_device, fresh_simulators  # noqa: F401
from sqlalchemy import func, insert, select

from access_bridge import changes, state
from access_bridge.drivers import simulator
from access_bridge.worker import Worker
from portal.accounts.operations import create_user
from portal.bridge.models import BridgeChange, DeviceCredential
from portal.devices.models import Device
from portal.devices.operations import add_device as add_device_to
from portal.extensions import db
from portal.passes.models import Pass
from portal.passes.operations import revoke_pass
from portal.sites import operations as places
from portal.sites.models import Site


@pytest.fixture
def two_sites(world):
    """Three devices in each of two communities, ten passes in each, all pushed by one worker."""
    bldg = places.add_building(world.other_site, "X", "X栋", 1, 5)
    unit = places.add_unit(bldg, "0101", 1)
    host = create_user("r-other", world.PASSWORD, "resident", "外人")
    places.move_in(host, unit, "owner")
    db.session.commit()
    here = [add_device(world, f"here-{i}") for i in range(3)]
    there = [add_device_to(world.other_site, f"there-{i}", "gate_reader", "simulator", {}) for i in range(3)]
    db.session.commit()
    for _ in range(10):
        world.make_pass()
        world.make_pass(host=host, unit=unit)
    return [d.id for d in here], [d.id for d in there]


@pytest.fixture
def worker(app):
    w = Worker(app, threads=2, plan_every=3600)
    yield w
    w.close()


def settle(worker):
    """One step plans and pushes; the next records what the devices answered."""
    worker.step()
    wait(list(worker.inflight.values()))
    worker.step()


def snapshot():
    """Every credential row's generation and state, to see which rows a step wrote."""
    db.session.expire_all()
    return {
        r.id: (r.device_id, r.key, r.desired, r.desired_version, r.status, r.updated_at)
        for r in db.session.scalars(select(DeviceCredential))
    }


def touched(before, after):
    return {(row[0], row[1]) for i, row in after.items() if before.get(i) != row}


@pytest.fixture
def loaded(monkeypatch):
    """How many passes each planning query loaded."""
    counts = []
    real = state.live_passes

    def spy(*args, **kw):
        out = real(*args, **kw)
        counts.append(len(out))
        return out

    monkeypatch.setattr(state, "live_passes", spy)
    return counts


@pytest.fixture
def planned(monkeypatch):
    """The ids of the devices each planning of desired state was for (one set per call)."""
    calls = []
    real = state.desired_for_devices

    def spy(session, devices, *args, **kw):
        calls.append({d.id for d in devices})
        return real(session, devices, *args, **kw)

    monkeypatch.setattr(state, "desired_for_devices", spy)
    return calls


def test_creating_and_revoking_a_pass_touches_only_its_sites_devices(app, world, two_sites, worker, loaded):
    here, there = two_sites
    settle(worker)
    assert len(snapshot()) == 6 * 10  # the full plan: each pass on its own site's three devices
    assert max(loaded) == 20

    loaded.clear()
    before = snapshot()
    p = world.make_pass()
    settle(worker)
    after = snapshot()
    assert touched(before, after) == {(d, f"V{p.id}") for d in here}
    assert len(after) == len(before) + 3
    assert loaded and max(loaded) == 1  # only the changed pass was read, not the site's or anyone's live passes
    assert all(f"V{p.id}" in simulator.device(d) for d in here)
    assert not any(f"V{p.id}" in simulator.device(d) for d in there)

    loaded.clear()
    before = after
    revoke_pass(p)
    db.session.commit()
    settle(worker)
    after = snapshot()
    assert touched(before, after) == {(d, f"V{p.id}") for d in here}
    assert all(after[i][2] == "absent" for i in after if after[i][1] == f"V{p.id}")
    assert not any(f"V{p.id}" in simulator.device(d) for d in here)
    assert max(loaded, default=0) <= 1


def test_a_changed_device_is_replanned_alone(app, world, two_sites, worker):
    here, _there = two_sites
    settle(worker)
    before = snapshot()
    side = places.add_gate(world.site, "SIDE", "侧门")
    device = db.session.get(Device, here[0])
    device.gate_ids = [side.id]
    gated = world.make_pass(commit=False, gate_ids=[world.gate.id])
    db.session.commit()
    settle(worker)
    after = snapshot()
    # The pass for the main gate leaves the device moved to the side gate; the others' rows of old passes stay.
    assert {(d, k) for d, k in touched(before, after) if k != f"V{gated.id}"} == set()
    assert {d for d, k in touched(before, after)} == set(here[1:])
    assert f"V{gated.id}" not in simulator.device(here[0])
    assert len(simulator.device(here[0]).keys()) == 10  # its passes without gates stay


def test_a_residents_car_touches_only_its_sites_barriers(app, world, two_sites, worker, loaded):
    from portal.vehicles import operations as cars

    barrier = add_device(world, "car-barrier", kind="barrier")
    other = add_device_to(world.other_site, "their-barrier", "barrier", "simulator", {})
    db.session.commit()
    settle(worker)
    before = snapshot()
    loaded.clear()
    car = cars.register(world.r1, world.unit_a, "沪F12345")
    db.session.commit()
    settle(worker)
    assert touched(before, snapshot()) == {(barrier.id, f"R{car.id}")}
    assert max(loaded, default=0) == 0  # no pass was read for a car
    assert f"R{car.id}" in simulator.device(barrier.id) and f"R{car.id}" not in simulator.device(other.id)


def test_a_rolled_back_change_leaves_no_outbox_row_and_a_committed_one_does(app, world):
    top = db.session.scalar(select(BridgeChange.id).order_by(BridgeChange.id.desc()).limit(1)) or 0
    world.make_pass(commit=False)
    db.session.rollback()
    assert db.session.scalars(select(BridgeChange).where(BridgeChange.id > top)).all() == []
    p = world.make_pass()
    kinds = {(c.kind, c.object_id) for c in db.session.scalars(select(BridgeChange).where(BridgeChange.id > top))}
    assert ("pass", p.id) in kinds


def test_the_cursor_reads_an_id_that_commits_after_a_higher_one(app):
    cursor = changes.Cursor()
    cursor.reset(db.session)
    db.session.execute(insert(BridgeChange), [{"id": 10, "kind": "pass", "object_id": 7}])
    db.session.commit()
    assert cursor.read(db.session).passes == {7}
    # id 9 was taken earlier by a transaction that commits only now.
    db.session.execute(insert(BridgeChange), [{"id": 9, "kind": "pass", "object_id": 8}])
    db.session.commit()
    assert cursor.read(db.session).passes == {8}
    assert not cursor.read(db.session)


@pytest.fixture
def lifts(world, two_sites):
    """Lifts of building A and of no building (both serve their building's floors), one of B, one naming its floors."""
    lift_a = add_device(world, "lift-a", kind="elevator_controller", building="A")
    lift_any = add_device(world, "lift-any", kind="elevator_controller")
    lift_b = add_device(world, "lift-b", kind="elevator_controller", building="B")
    lift_own = add_device(world, "lift-own", kind="elevator_controller", building="A", floors=list(range(1, 19)))
    return lift_a.id, lift_any.id, lift_b.id, lift_own.id


def _floors(device_id, key):
    return simulator.device(device_id).credentials[key]["floors"]


def test_a_units_floor_replans_only_its_passes_that_follow_it(app, world, two_sites, lifts, worker, loaded, planned):
    lift_a, lift_any, _lift_b, lift_own = lifts
    follows = [world.make_pass(floors=[]) for _ in range(2)]  # no floors of their own: the unit's
    world.make_pass(floors=[3])
    for _ in range(5):
        world.make_pass(host=world.r2)
    settle(worker)
    assert _floors(lift_a, f"V{follows[0].id}") == [12]
    in_unit = db.session.scalar(select(func.count(Pass.id)).where(Pass.unit_id == world.unit_a.id))
    before = snapshot()
    loaded.clear()
    places.update_unit(world.unit_a, {"number": "1201", "floor": 14})
    db.session.commit()
    settle(worker)
    # The lifts of building A or of none (B's does not serve the unit); passes with floors of their own keep them.
    serving = (lift_a, lift_any, lift_own)
    assert touched(before, snapshot()) == {(d, f"V{p.id}") for d in serving for p in follows}
    assert all(_floors(d, f"V{p.id}") == [14] for d in serving for p in follows)
    assert loaded and max(loaded) == in_unit < in_unit + 5  # the unit's live passes were read, not the site's


def test_a_buildings_floors_replan_only_the_lifts_that_serve_them(app, world, two_sites, lifts, worker, planned):
    lift_a, lift_any, _lift_b, _lift_own = lifts
    high = world.make_pass(floors=[17])
    world.make_pass(host=world.r2)
    settle(worker)
    assert f"V{high.id}" in simulator.device(lift_a)
    before = snapshot()
    planned.clear()
    places.update_building(world.bldg_a, {"lowest_floor": 1, "highest_floor": 16})
    db.session.commit()
    settle(worker)
    assert touched(before, snapshot()) == {(lift_a, f"V{high.id}"), (lift_any, f"V{high.id}")}
    assert set().union(*planned) == {lift_a, lift_any}  # not B's lift, the one naming its floors, readers, elsewhere
    assert f"V{high.id}" not in simulator.device(lift_a) and f"V{high.id}" in simulator.device(lifts[3])


def test_the_static_pin_setting_replans_its_sites_devices_and_other_settings_nothing(app, world, two_sites, worker, planned):
    here, there = two_sites
    settle(worker)
    before = snapshot()
    planned.clear()
    places.change_settings(db.session.get(Site, world.site.id), {"retention_days": 7})
    db.session.commit()
    settle(worker)
    assert planned == [] and touched(before, snapshot()) == set()
    site = db.session.get(Site, world.site.id)
    site.settings = {**(site.settings or {}), state.PIN_SETTING: True}  # no page sets it: an operator's choice
    db.session.commit()
    settle(worker)
    after = snapshot()
    assert set().union(*planned) == set(here)
    assert {d for d, _ in touched(before, after)} == set(here) and len(touched(before, after)) == 3 * 10
    assert all(simulator.device(d).credentials[k]["pin"] for d in here for k in simulator.device(d).credentials)


def test_a_device_added_moved_to_other_doors_or_removed_is_planned_alone(app, world, two_sites, worker, planned, loaded):
    from portal.devices.changes import update_device
    from portal.devices.operations import remove_device

    here, _there = two_sites
    settle(worker)
    planned.clear()
    before = snapshot()
    new = add_device(world, "side-door")
    settle(worker)  # the outbox names a device no worker holds: it is claimed at the next step
    settle(worker)
    after = snapshot()
    assert set().union(*planned) == {new.id} and {d for d, _ in touched(before, after)} == {new.id}
    planned.clear()
    update_device(db.session.get(Device, here[0]), options={"doors": [2]})
    db.session.commit()
    settle(worker)
    moved = snapshot()
    assert set().union(*planned) == {here[0]}
    assert {d for d, _ in touched(after, moved)} == {here[0]} and len(touched(after, moved)) == 10
    assert all(simulator.device(here[0]).credentials[k]["doors"] == [2] for k in simulator.device(here[0]).credentials)
    planned.clear()
    remove_device(db.session.get(Device, here[1]))
    db.session.commit()
    settle(worker)
    assert set().union(*planned) <= {here[1]}
    assert {d for d, _ in touched(moved, snapshot())} == {here[1]} and simulator.device(here[1]).keys() == set()


def test_a_resident_moving_out_replans_only_their_passes_and_cars(app, world, two_sites, worker, loaded):
    from portal.accounts.models import Residency
    from portal.vehicles import operations as cars

    here, _there = two_sites
    barrier = add_device(world, "barrier", kind="barrier")
    car = cars.register(world.r1, world.unit_a, "沪F12345")
    db.session.commit()
    settle(worker)
    mine = {p.id for p in db.session.scalars(select(Pass).where(Pass.host_id == world.r1.id, Pass.status == "active"))}
    before = snapshot()
    loaded.clear()
    residency = db.session.scalar(select(Residency).where(Residency.user_id == world.r1.id))
    places.move_out(residency)
    db.session.commit()
    settle(worker)
    changed = touched(before, snapshot())
    assert changed == {(d, f"V{i}") for d in [*here, barrier.id] for i in mine if (d, f"V{i}") in before_keys(before)} | {
        (barrier.id, f"R{car.id}")
    }
    assert max(loaded, default=0) <= len(mine)
    assert not any(f"V{i}" in simulator.device(d) for d in here for i in mine)


def before_keys(rows):
    return {(r[0], r[1]) for r in rows.values()}
