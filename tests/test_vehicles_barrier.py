"""Residents' registered plates reach plate-reading barriers through the bridge, and leave them when they should."""

from bridge_support import add_device, fresh_simulators, rows, run_bridge  # noqa: F401

from access_bridge import reconciler as rc
from access_bridge.drivers import simulator
from portal.extensions import db
from portal.sites.operations import move_out
from portal.vehicles import operations as cars
from portal.vehicles.models import Vehicle


def _register(world, plate="沪A12345"):
    car = cars.register(world.r1, world.unit_a, plate)
    db.session.commit()
    return car


def test_register_pushes_the_plate_and_delete_removes_it(app, world):
    barrier = add_device(world, "car-barrier", kind="barrier")
    reader = add_device(world, "gate-reader")
    car = _register(world)
    key = f"R{car.id}"
    # The reconciler plans a push of the plate to the barrier only (a QR reader has nothing to do with plates).
    rc.plan(db.session, [barrier, reader])
    db.session.commit()
    planned = rows(barrier.id)[key]
    assert planned.desired == "present" and planned.status == "pending" and planned.pass_id is None
    assert key not in rows(reader.id)
    run_bridge(app)
    held = simulator.device(barrier.id).credentials[key]
    assert held["plate"] == "沪A12345" and rows(barrier.id)[key].acked_state == "present"

    cars.remove(db.session.get(Vehicle, car.id))
    db.session.commit()
    rc.plan(db.session, [barrier])
    db.session.commit()
    assert rows(barrier.id)[key].desired == "absent"  # planned removal
    run_bridge(app)
    assert key not in simulator.device(barrier.id)


def test_a_plan_for_a_few_passes_leaves_residents_cars_alone(app, world):
    barrier = add_device(world, "car-barrier", kind="barrier")
    car = _register(world, "沪B22222")
    rc.plan(db.session, [barrier])
    p = world.make_pass(plate="沪C33333")
    rc.plan(db.session, [barrier], pass_ids=[p.id])
    assert rows(barrier.id)[f"R{car.id}"].desired == "present" and f"V{p.id}" in rows(barrier.id)


def test_moving_out_takes_the_households_plates_off_the_barrier(app, world):
    barrier = add_device(world, "car-barrier", kind="barrier")
    car = _register(world, "沪D44444")
    run_bridge(app)
    assert f"R{car.id}" in simulator.device(barrier.id)
    move_out(world.r1.current_residencies()[0])
    db.session.commit()
    run_bridge(app)
    assert f"R{car.id}" not in simulator.device(barrier.id)
    assert rows(barrier.id)[f"R{car.id}"].desired == "absent"


def test_only_approved_cars_are_pushed_and_withdrawal_removes_them(app, world):
    world.site.settings = {**(world.site.settings or {}), "vehicles_need_approval": True}
    db.session.commit()
    barrier = add_device(world, "car-barrier", kind="barrier")
    car = _register(world, "沪E55555")
    key = f"R{car.id}"
    run_bridge(app)
    assert key not in simulator.device(barrier.id)  # waiting for the manager
    cars.approve(world.manager, db.session.get(Vehicle, car.id))
    db.session.commit()
    run_bridge(app)
    assert key in simulator.device(barrier.id)
    cars.withdraw_approval(world.manager, db.session.get(Vehicle, car.id))
    db.session.commit()
    run_bridge(app)
    assert key not in simulator.device(barrier.id)


def test_a_new_car_makes_a_running_bridge_plan_at_once(app, world):
    """Between its periodic full plans the bridge only looks at changed passes; a car's audit row makes it plan all."""
    from concurrent.futures import wait

    from access_bridge.worker import Worker

    barrier = add_device(world, "car-barrier", kind="barrier")
    worker = Worker(app, threads=2, plan_every=3600)

    def settle():
        worker.step()
        wait(list(worker.inflight.values()))
        worker.step()  # records what the device answered

    try:
        settle()
        car = _register(world, "沪F66666")
        settle()
        assert f"R{car.id}" in simulator.device(barrier.id)
    finally:
        worker.close()
