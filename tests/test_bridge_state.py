"""Desired state: which credential each live pass gets on which device."""

from datetime import timedelta

from bridge_support import add_device, expected_keys, fresh_simulators  # noqa: F401

from access_bridge import state
from access_bridge.drivers import simulator  # noqa: F401  (registers the driver)
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.passes.operations import revoke_pass


def desired(device):
    return state.desired_for_devices(db.session, [device])[device.id]


def test_whole_site_device_gets_every_live_pass_and_nothing_else(world):
    device = add_device(world, "gate")
    now = utcnow()
    live = world.make_pass()
    later = world.make_pass(valid_from=now + timedelta(hours=2), valid_until=now + timedelta(hours=5))
    revoked = world.make_pass()
    used = world.make_pass(max_entries=1)
    world.make_pass(valid_from=now - timedelta(hours=3), valid_until=now - timedelta(minutes=1))
    revoke_pass(revoked)
    used.uses = 1
    other = world.make_pass(host=world.r2)
    db.session.commit()
    assert set(desired(device)) == expected_keys(live, later, other)


def test_gates_narrow_on_both_sides(world):
    main_only = add_device(world, "main", gates=["MAIN"])
    anywhere = world.make_pass(gate_ids=[])
    car_only = world.make_pass(gate_ids=[world.car_gate.id])
    main_pass = world.make_pass(gate_ids=[world.gate.id, world.car_gate.id])
    assert set(desired(main_only)) == expected_keys(anywhere, main_pass)
    assert car_only.id  # issued, simply not for this reader


def test_elevator_gets_the_floors_of_its_building_only(world):
    lift_a = add_device(world, "lift-a", kind="elevator_controller", building="A", floors=list(range(1, 19)))
    low_lift = add_device(world, "lift-a-low", kind="elevator_controller", building="A", floors=[1, 2, 3])
    to_a = world.make_pass(floors=[12, 30])
    to_b = world.make_pass(host=world.r2)
    default_floor = world.make_pass(floors=[])
    table = desired(lift_a)
    assert set(table) == expected_keys(to_a, default_floor)
    assert table[f"V{to_a.id}"].floors == [12]
    assert table[f"V{default_floor.id}"].floors == [world.unit_a.floor]
    assert desired(low_lift) == {}
    assert to_b.id


def test_each_credential_carries_its_own_window_schedule_and_uses(world):
    device = add_device(world, "door", kind="door_controller", doors=[1, 2])
    schedule = {"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"}
    p = world.make_pass(schedule=schedule, max_entries=3)
    p.uses = 1
    db.session.commit()
    cred = desired(device)[f"V{p.id}"]
    assert (cred.valid_from, cred.valid_until) == (p.valid_from, p.valid_until)
    assert cred.schedule == dict(schedule, timezone="Asia/Shanghai")
    assert cred.max_uses == 2
    assert cred.doors == [1, 2]
    assert cred.name == f"Visitor V{p.id}"  # no visitor name on devices


def test_barrier_holds_plates_and_only_passes_with_one(world):
    barrier = add_device(world, "barrier", kind="barrier", gates=["CAR"])
    car = world.make_pass(plate="粤B12345")
    world.make_pass()
    table = desired(barrier)
    assert set(table) == expected_keys(car)
    assert table[f"V{car.id}"].plate == "粤B12345"


def test_card_numbers_are_unique_32_bit_and_stable():
    numbers = [int(state.card_number(i)) for i in range(1, 5001)]
    assert len(set(numbers)) == len(numbers)
    assert all(0 < n < 2**32 for n in numbers)
    assert numbers != sorted(numbers)  # not the pass id in disguise
    state.card_number.cache_clear()
    assert int(state.card_number(1)) == numbers[0]


def test_static_pin_only_when_the_site_allows_it(world):
    device = add_device(world, "keypad")
    p = world.make_pass()
    assert desired(device)[f"V{p.id}"].pin is None
    world.site.settings = {state.PIN_SETTING: True}
    db.session.commit()
    pin = desired(device)[f"V{p.id}"].pin
    assert pin and len(pin) == 8 and pin.isdigit()


def test_fingerprint_changes_when_the_pass_is_extended(world):
    from portal.passes.operations import extend_pass

    device = add_device(world, "gate")
    p = world.make_pass()
    before = state.fingerprint(desired(device)[f"V{p.id}"])
    extend_pass(p, p.valid_until + timedelta(hours=1))
    db.session.commit()
    assert state.fingerprint(desired(device)[f"V{p.id}"]) != before
