"""Escalation up the chain and offers to the nearest guards, with time passed in rather than slept through."""

from datetime import timedelta

from incidents_support import report, staff

from portal.desk import operations as desk
from portal.extensions import db
from portal.incidents.escalation import escalate_due
from portal.incidents.models import Incident, IncidentEscalation
from portal.notify.models import Message
from portal.shifts import operations as shifts
from portal.shifts.models import GuardOffer
from portal.sites.models import Site


def _sms(purpose="incident_escalation"):
    return db.session.scalars(db.select(Message).where(Message.purpose == purpose).order_by(Message.id)).all()


def _log(client, world, **over):
    inc_id = report(client, world, **over).get_json()["id"]
    return db.session.get(Incident, inc_id)


def _people(world):
    """The site's manager (on duty), a second manager (off duty) and an all-sites admin, each with a phone."""
    world.manager.phone = "+8613900000001"
    off_duty = staff(world, "manager2", role="manager", name="副经理", phone="+8613900000002")
    admin = staff(world, "admin1", role="admin", name="总部", phone="+8613900000003")
    admin.site_id = None
    with world.app.test_request_context():
        desk.start_shift(world.manager, world.site.id)
        db.session.commit()
    return off_duty, admin


def test_unacknowledged_high_incident_goes_to_managers_on_duty_then_up_the_chain_once_each(client, world):
    off_duty, admin = _people(world)
    inc = _log(client, world, severity="high")
    t0 = inc.reported_at
    assert escalate_due(now=t0 + timedelta(minutes=4, seconds=59)) == []
    step1 = escalate_due(now=t0 + timedelta(minutes=5))
    assert [r.step for r in step1] == [1] and step1[0].notified == [world.manager.id]
    assert [m.to for m in _sms()] == ["+8613900000001"]
    assert f"#{inc.id}" in _sms()[0].body and inc.description not in _sms()[0].body
    assert escalate_due(now=t0 + timedelta(minutes=9)) == []  # step 1 never twice
    step2 = escalate_due(now=t0 + timedelta(minutes=10))
    assert [r.step for r in step2] == [2] and set(step2[0].notified) == {world.manager.id, off_duty.id, admin.id}
    assert escalate_due(now=t0 + timedelta(hours=5)) == []
    assert len(_sms()) == 4
    timeline = client.get(f"/api/v1/incidents/{inc.id}", headers=world.token(world.guard)).get_json()["timeline"]
    assert [e["details"].get("step") for e in timeline if e["action"] == "escalated"] == [1, 2]


def test_without_a_manager_on_duty_step_one_goes_to_every_manager_of_the_site(client, world):
    world.manager.phone = "+8613900000001"
    db.session.commit()
    inc = _log(client, world, severity="critical")
    escalate_due(now=inc.reported_at + timedelta(minutes=6))
    assert [m.to for m in _sms()] == ["+8613900000001"]


def test_acknowledged_low_and_normal_incidents_do_not_escalate_and_the_limit_is_the_sites(client, world):
    _people(world)
    site = db.session.get(Site, world.site.id)
    site.settings = {**(site.settings or {}), "incident_ack_minutes": 2}
    db.session.commit()
    acked = _log(client, world, severity="high")
    client.post(f"/api/v1/incidents/{acked.id}/acknowledge", headers=world.token(world.guard))
    normal = _log(client, world, severity="normal")
    late = _log(client, world, severity="high")
    made = escalate_due(now=late.reported_at + timedelta(minutes=2, seconds=1))
    assert [(r.incident_id, r.step) for r in made] == [(late.id, 1)]
    assert (
        db.session.scalar(db.select(db.func.count(IncidentEscalation.id)).where(IncidentEscalation.incident_id == normal.id)) == 0
    )


def test_high_incident_is_offered_to_the_guards_of_its_building_first_then_to_everyone(client, world):
    near = staff(world, "guard2", name="A栋保安")
    patrol = staff(world, "guard3", name="巡逻保安")
    with world.app.test_request_context():
        for g in (world.guard, near, patrol):
            desk.start_shift(g, world.site.id)
        shifts.set_post(near, world.site, "building", building_id=world.bldg_a.id)
        shifts.set_post(patrol, world.site, "patrol")
        shifts.set_post(world.guard, world.site, "gate", gate_id=world.gate.id)
        db.session.commit()
    inc = _log(client, world, severity="high", building_id=world.bldg_a.id)
    offers = db.session.scalars(db.select(GuardOffer)).all()
    assert [(o.guard_id, o.wave) for o in offers] == [(near.id, 1)]
    assert shifts.widen_offers(now=inc.reported_at + timedelta(seconds=59)) == []
    widened = shifts.widen_offers(now=inc.reported_at + timedelta(seconds=60))
    assert sorted(g for _, _, g in widened) == sorted([world.guard.id, patrol.id])
    assert shifts.widen_offers(now=inc.reported_at + timedelta(seconds=120)) == []
    page = client.get(f"/api/v1/incidents/{inc.id}", headers=world.token(world.guard)).get_json()
    assert [e["action"] for e in page["timeline"]] == ["reported", "offered", "widened"]
    assert sorted((o["guard_id"], o["wave"]) for o in page["offered_to"]) == sorted(
        [(near.id, 1), (world.guard.id, 2), (patrol.id, 2)]
    )


def test_nobody_in_the_building_goes_to_patrol_and_an_answer_stops_the_widening(client, world):
    patrol = staff(world, "guard3", name="巡逻保安")
    with world.app.test_request_context():
        for g in (world.guard, patrol):
            desk.start_shift(g, world.site.id)
        shifts.set_post(patrol, world.site, "patrol")
        db.session.commit()
    inc = _log(client, world, severity="critical", building_id=world.bldg_b.id)
    assert [o.guard_id for o in db.session.scalars(db.select(GuardOffer))] == [patrol.id]
    client.post(f"/api/v1/incidents/{inc.id}/acknowledge", headers=world.token(patrol))
    assert shifts.widen_offers(now=inc.reported_at + timedelta(minutes=5)) == []


def test_offer_to_guards_for_alarms_and_posts_are_checked(client, world):
    with world.app.test_request_context():
        desk.start_shift(world.guard, world.site.id)
        assert shifts.offer_to_guards(world.site, world.bldg_a) == [world.guard]  # nobody nearer: everyone on shift
        assert shifts.offer_to_guards(world.site, world.bldg_a, subject="alarm", subject_id=77) == [world.guard]
        db.session.commit()
    assert db.session.scalar(db.select(GuardOffer.subject).where(GuardOffer.subject_id == 77)) == "alarm"
    headers = world.token(world.guard)
    assert (
        client.post("/api/v1/desk/shift/post", json={"kind": "building", "building_id": 999999}, headers=headers).status_code
        == 400
    )
    assert client.post("/api/v1/desk/shift/post", json={"kind": "roof"}, headers=headers).status_code == 400
    ok = client.post("/api/v1/desk/shift/post", json={"kind": "building", "building_id": world.bldg_b.id}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["building_id"] == world.bldg_b.id
    # Off shift there is no post to set.
    assert client.post("/api/v1/desk/shift/post", json={"kind": "patrol"}, headers=world.token(world.manager)).status_code == 409


def test_the_worker_runs_both_jobs(app, client, world):
    from portal.core.jobs import JOBS, run_once

    assert {"incidents_escalate", "shifts_widen_offers"} <= set(JOBS)
    world.manager.phone = "+8613900000001"
    db.session.commit()
    inc = _log(client, world, severity="high")
    inc.reported_at = inc.reported_at - timedelta(minutes=6)
    db.session.commit()
    run_once(app, only=["incidents_escalate", "shifts_widen_offers"])
    assert [m.to for m in _sms()] == ["+8613900000001"]


def test_an_alarm_becomes_an_incident_outside_a_request_offered_by_the_devices_building(app, world):
    from portal.incidents.operations import create_incident

    dev, _ = world.device(name="A栋门禁", kind="door_controller", gates=[])
    dev.building_id = world.bldg_a.id
    near = staff(world, "guard2", name="A栋保安")
    with world.app.test_request_context():
        for g in (world.guard, near):
            desk.start_shift(g, world.site.id)
        shifts.set_post(near, world.site, "building", building_id=world.bldg_a.id)
        db.session.commit()
    inc = create_incident(world.site, "damage", "A栋大门", "门被强行打开", "high", None, source="alarm", device=dev, alarm_id=42)
    db.session.commit()
    assert (inc.building_id, inc.alarm_id, inc.source, inc.reported_by_id) == (world.bldg_a.id, 42, "alarm", None)
    assert [o.guard_id for o in db.session.scalars(db.select(GuardOffer))] == [near.id]
