"""On PostgreSQL: racing survey answers count once; racing escalation workers escalate once."""

from datetime import timedelta

import pytest
from feedback_support import file_json, race

from portal.core.timeutil import utcnow
from portal.events.operations import record_event
from portal.extensions import db
from portal.feedback import jobs
from portal.feedback import operations as feedback_ops
from portal.feedback.models import Complaint, Escalation, FollowUp
from portal.notify.models import Message
from portal.reports import periods
from portal.reports.queries import kpi

pytestmark = pytest.mark.integration


def _survey(world):
    now = utcnow()
    p = world.make_pass(valid_from=now - timedelta(hours=3), valid_until=now - timedelta(minutes=1))
    with world.app.test_request_context():
        record_event(
            site_id=world.site.id,
            method="qr",
            pass_id=p.id,
            decision="grant",
            reason="ok",
            direction="in",
            at=now - timedelta(hours=2),
        )
        db.session.commit()
    return feedback_ops.scan_ended_passes()[0]


def test_racing_answers_count_once(pg_app, pg_world):
    token = _survey(pg_world).token

    def answer():
        return pg_app.test_client().post(f"/api/v1/surveys/{token}", json={"score": 1}).status_code

    codes = race(pg_app, 6, answer)
    assert sorted(codes) == [200, 409, 409, 409, 409, 409]
    assert db.session.scalar(db.select(db.func.count(FollowUp.id))) == 1


def test_racing_workers_escalate_once(pg_app, pg_world):
    pg_world.manager.phone = "+8613900000009"
    db.session.commit()
    client = pg_app.test_client()
    cid = file_json(client, pg_world.token(pg_world.r1))["id"]
    c = db.session.get(Complaint, cid)
    c.due_response_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    race(pg_app, 4, jobs.escalate_overdue)
    assert db.session.scalar(db.select(db.func.count(Escalation.id))) == 1
    sms = db.session.scalars(db.select(Message).where(Message.purpose == "feedback_escalation")).all()
    assert len(sms) == 1


def test_kpi_month_boundary_on_postgres(pg_app, pg_world):
    from portal.core.timeutil import parse_iso

    at = parse_iso("2026-03-31T16:30:00Z")  # April 1st, 00:30 in Shanghai
    db.session.add(
        Complaint(
            site_id=pg_world.site.id,
            author_id=pg_world.r1.id,
            kind="complaint",
            category="noise",
            description="x",
            created_at=at,
            due_response_at=at,
            due_resolution_at=at,
            first_response_at=at + timedelta(hours=3),
        )
    )
    from portal.events.models import AccessEvent

    for when in ("2026-03-31T16:30:00Z", "2026-04-01T01:00:00Z", "2026-04-01T01:14:59Z"):
        db.session.add(
            AccessEvent(
                site_id=pg_world.site.id,
                at=parse_iso(when),
                decision="grant",
                reason="ok",
                method="qr",
                direction="in",
                source="api",
            )
        )
    db.session.commit()
    april = kpi(pg_world.site, periods.parse("2026-04-01", "2026-04-30", "Asia/Shanghai"))
    march = kpi(pg_world.site, periods.parse("2026-03-01", "2026-03-31", "Asia/Shanghai"))
    assert april["complaints"]["complaints"] == 1 and march["complaints"]["complaints"] == 0
    assert april["response"]["median_first_response_hours"] == 3
    ent = april["entries"]
    assert ent["per_day"][0] == {"date": "2026-04-01", "count": 3}
    assert {h: n for h, n in enumerate(ent["by_hour"]) if n} == {0: 1, 9: 2}
    assert march["entries"]["granted"] == 0
