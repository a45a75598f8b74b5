"""SLA clocks by category and priority, overdue highlighting and escalation to the managers."""

from datetime import timedelta

from feedback_support import file_json, login

from portal.core.jobs import run_once
from portal.core.timeutil import parse_iso, utcnow
from portal.extensions import db
from portal.feedback import jobs, sla
from portal.feedback.models import Complaint, Escalation
from portal.notify.models import Message


def _hours(c, field):
    return round((parse_iso(c[field]) - parse_iso(c["created_at"])).total_seconds() / 3600, 2)


def test_deadlines_by_category_and_priority(client, world):
    gh = world.token(world.guard)
    noise = client.get(f"/api/v1/complaints/{file_json(client, world.token(world.r1))['id']}", headers=gh).get_json()
    assert (_hours(noise, "due_response_at"), _hours(noise, "due_resolution_at")) == (24, 72)
    sec = file_json(client, world.token(world.r1), category="security")["id"]
    urgent = client.post(f"/api/v1/complaints/{sec}/triage", json={"priority": "urgent"}, headers=gh).get_json()
    assert (_hours(urgent, "due_response_at"), _hours(urgent, "due_resolution_at")) == (0.5, 4)  # security/urgent


def test_site_settings_override_the_defaults(client, world):
    world.site.settings = {"feedback_sla": {"normal": [2, 10], "bogus": "x", "low": [-1, 5]}}
    db.session.commit()
    c = client.get(
        f"/api/v1/complaints/{file_json(client, world.token(world.r1))['id']}", headers=world.token(world.guard)
    ).get_json()
    assert (_hours(c, "due_response_at"), _hours(c, "due_resolution_at")) == (2, 10)
    assert sla.hours_for(world.site, "noise", "low") == (48, 168)  # invalid override ignored


def _make_late(cid, hours=30):
    c = db.session.get(Complaint, cid)
    shift = timedelta(hours=hours)
    c.created_at -= shift
    c.due_response_at -= shift
    c.due_resolution_at -= shift
    db.session.commit()
    return c


def test_overdue_is_escalated_once_and_visible(app, client, world):
    world.manager.phone = "+8613900000009"
    db.session.commit()
    cid = file_json(client, world.token(world.r1))["id"]
    on_time = file_json(client, world.token(world.r2), category="parking")["id"]
    _make_late(cid, hours=30)  # answer was due after 24 h

    run_once(app, only=["feedback_sla"])
    rows = db.session.scalars(db.select(Escalation)).all()
    assert [(r.complaint_id, r.kind) for r in rows] == [(cid, "response")]
    assert rows[0].notified == [world.manager.id]
    sms = db.session.scalars(db.select(Message).where(Message.purpose == "feedback_escalation")).all()
    assert len(sms) == 1 and sms[0].to == "+8613900000009" and f"#{cid}" in sms[0].body

    run_once(app, only=["feedback_sla"])  # once per deadline
    assert db.session.scalar(db.select(db.func.count(Escalation.id))) == 1

    gh = world.token(world.guard)
    c = client.get(f"/api/v1/complaints/{cid}", headers=gh).get_json()
    assert c["overdue"] == ["response"]
    assert any(m["kind"] == "event" and m["details"]["action"] == "escalate" for m in c["messages"])
    assert client.get(f"/api/v1/complaints/{on_time}", headers=gh).get_json()["overdue"] == []
    assert [x["id"] for x in client.get("/api/v1/complaints?overdue=1", headers=gh).get_json()["items"]] == [cid]

    login(client, world, world.guard)
    queue = client.get("/team/feedback/").get_data(as_text=True)
    row = queue.split(f">#{cid}</a>")[0].rsplit("<tr", 1)[1]
    assert "overdue" in row
    assert "escalated" in queue
    assert f"#{cid}" in client.get("/team/feedback/escalations").get_data(as_text=True)

    # Past the resolution deadline too (72 h): a second, separate escalation.
    c = db.session.get(Complaint, cid)
    c.due_resolution_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    made = jobs.escalate_overdue()
    assert [r.kind for r in made] == ["resolution"]


def test_answered_item_is_not_escalated_for_response(client, world):
    cid = file_json(client, world.token(world.r1))["id"]
    client.post(f"/api/v1/complaints/{cid}/respond", json={"body": "On it."}, headers=world.token(world.guard))
    _make_late(cid, hours=30)
    assert jobs.escalate_overdue() == []


def test_overdue_follow_up_is_escalated(client, world):
    cid = file_json(client, world.token(world.r1))["id"]
    client.post(f"/api/v1/complaints/{cid}/resolve", json={"body": "Done."}, headers=world.token(world.guard))
    later = utcnow() + timedelta(hours=sla.FOLLOW_UP_HOURS + 1)
    made = jobs.escalate_overdue(now=later)
    assert [(r.kind, r.complaint_id is None) for r in made] == [("follow_up", True)]
