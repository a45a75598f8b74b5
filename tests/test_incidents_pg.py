"""On PostgreSQL: racing escalation workers make each step once; racing acknowledgements record one guard."""

from datetime import timedelta

import pytest
from incidents_support import report, staff
from support import race

from portal.extensions import db
from portal.incidents.escalation import escalate_due
from portal.incidents.models import Incident, IncidentEscalation
from portal.notify.models import Message
from portal.shifts import operations as shifts
from portal.shifts.models import GuardOffer

pytestmark = pytest.mark.integration


def test_racing_workers_escalate_each_step_exactly_once(pg_app, pg_world):
    pg_world.manager.phone = "+8613900000009"
    staff(pg_world, "manager2", role="manager", name="副经理", phone="+8613900000008")
    client = pg_app.test_client()
    ids = [report(client, pg_world, severity=s).get_json()["id"] for s in ("high", "critical", "high")]
    reported = db.session.get(Incident, ids[0]).reported_at
    db.session.remove()
    # Six workers at once, twice: once when step 1 is due, once when step 2 is.
    for minutes in (6, 11):
        results = race(pg_app, 6, lambda m=minutes: len(escalate_due(now=reported + timedelta(minutes=m))))
        assert sum(results) == len(ids), results
    rows = db.session.execute(db.select(IncidentEscalation.incident_id, IncidentEscalation.step)).all()
    assert sorted(rows) == sorted((i, s) for i in ids for s in (1, 2))
    sms = db.session.scalars(db.select(Message).where(Message.purpose == "incident_escalation")).all()
    assert len(sms) == len(ids) * 2 * 2  # two managers at each of the two steps


def test_racing_acknowledgements_record_one_guard(pg_app, pg_world):
    guards = [pg_world.guard] + [staff(pg_world, f"guard{n}", name=f"保安{n}") for n in range(2, 6)]
    client = pg_app.test_client()
    inc_id = report(client, pg_world).get_json()["id"]
    tokens = [pg_world.token(g) for g in guards]
    guard_ids = {g.id for g in guards}
    db.session.remove()
    counter = iter(range(len(guards)))

    def ack(c):
        return c.post(f"/api/v1/incidents/{inc_id}/acknowledge", headers=tokens[next(counter)]).status_code

    codes = race(pg_app, len(guards), ack, client=True)
    assert sorted(codes) == [200] + [409] * (len(guards) - 1)
    inc = db.session.get(Incident, inc_id)
    assert inc.acknowledged_by_id in guard_ids
    assert sum(1 for e in inc.events if e.action == "acknowledged") == 1


def test_racing_widening_offers_each_guard_once(pg_app, pg_world):
    from portal.desk import operations as desk

    others = [staff(pg_world, f"guard{n}", name=f"保安{n}") for n in range(2, 5)]
    with pg_app.test_request_context():
        for g in [pg_world.guard, *others]:
            desk.start_shift(g, pg_world.site.id)
        shifts.set_post(pg_world.guard, pg_world.site, "building", building_id=pg_world.bldg_a.id)
        db.session.commit()
    client = pg_app.test_client()
    inc_id = report(client, pg_world, building_id=pg_world.bldg_a.id).get_json()["id"]
    at = db.session.get(Incident, inc_id).reported_at + timedelta(seconds=61)
    expected = sorted([(pg_world.guard.id, 1)] + [(g.id, 2) for g in others])
    db.session.remove()
    race(pg_app, 5, lambda: shifts.widen_offers(now=at))
    rows = db.session.execute(db.select(GuardOffer.guard_id, GuardOffer.wave)).all()
    assert sorted(rows) == expected
