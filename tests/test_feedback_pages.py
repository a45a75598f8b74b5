"""The phone pages and the team's pages: forms with CSRF, unread answers, the page flow to closing, follow-ups."""

from datetime import timedelta

from feedback_support import csrf_from, file_json, login

from portal.core.timeutil import utcnow
from portal.events.operations import record_event
from portal.extensions import db
from portal.feedback import operations as feedback_ops
from portal.feedback.models import Complaint


def test_team_pages_work_a_filing_to_closed(client, world):
    cid = file_json(client, world.token(world.r1), description="Gate barrier hits cars.")["id"]
    login(client, world, world.guard)
    page = client.get(f"/team/feedback/{cid}").get_data(as_text=True)
    token = csrf_from(page)
    assert "Gate barrier hits cars." in page
    assert client.post(f"/team/feedback/{cid}/resolve", data={"body": ""}).status_code == 403  # no CSRF token
    client.post(f"/team/feedback/{cid}/resolve", data={"csrf_token": token, "body": ""})
    assert db.session.get(Complaint, cid).status == "new"  # refused: no answer yet
    client.post(f"/team/feedback/{cid}/triage", data={"csrf_token": token, "priority": "urgent", "category": "facilities"})
    client.post(f"/team/feedback/{cid}/assign", data={"csrf_token": token, "assignee_id": str(world.guard.id)})
    client.post(f"/team/feedback/{cid}/respond", data={"csrf_token": token, "body": "Sensor recalibrated."})
    client.post(f"/team/feedback/{cid}/resolve", data={"csrf_token": token, "body": ""})
    db.session.expire_all()
    c = db.session.get(Complaint, cid)
    assert (c.status, c.priority, c.category, c.assignee_id) == ("resolved", "urgent", "facilities", world.guard.id)
    client.post(f"/team/feedback/{cid}/follow-up", data={"csrf_token": token, "outcome": "solved", "note": "Resident happy."})
    db.session.expire_all()
    assert db.session.get(Complaint, cid).status == "closed"
    thread = client.get(f"/team/feedback/{cid}").get_data(as_text=True)
    assert "Sensor recalibrated." in thread and "Resident happy." not in thread  # the note lives on the task


def test_resident_sees_new_answer_badge_until_opened(client, world):
    rh = world.token(world.r1)
    cid = file_json(client, rh)["id"]
    client.post(f"/api/v1/complaints/{cid}/respond", json={"body": "We will talk to them."}, headers=world.token(world.guard))
    login(client, world, world.r1)
    assert "New answer" in client.get("/my/feedback/?lang=en").get_data(as_text=True)
    detail = client.get(f"/my/feedback/{cid}").get_data(as_text=True)
    assert "We will talk to them." in detail and "王师傅" not in detail  # the guard's name stays with the team
    assert "New answer" not in client.get("/my/feedback/?lang=en").get_data(as_text=True)
    client.post(f"/my/feedback/{cid}/messages", data={"csrf_token": csrf_from(detail), "body": "Thanks, still noisy at 22:00."})
    assert "still noisy" in client.get(f"/my/feedback/{cid}").get_data(as_text=True)


def _low_score(client, world):
    """A visit that ended, rated one star: the survey opens a follow-up task."""
    now = utcnow()
    p = world.make_pass(valid_from=now - timedelta(hours=3), valid_until=now - timedelta(minutes=1))
    with world.app.test_request_context():
        record_event(site_id=world.site.id, method="qr", pass_id=p.id, decision="grant", reason="ok", direction="in")
        db.session.commit()
    s = feedback_ops.scan_ended_passes()[0]
    client.post(f"/api/v1/surveys/{s.token}", json={"score": 1, "comment": "Guest waited an hour"})


def test_follow_up_page_masks_the_phone_and_closes_tasks(client, world):
    world.r1.phone = "+8613812345678"
    db.session.commit()
    _low_score(client, world)
    login(client, world, world.manager)
    page = client.get("/team/feedback/follow-ups").get_data(as_text=True)
    assert "Guest waited an hour" in page and "+86 138****5678" in page and "13812345678" not in page
    task_id = page.split("/team/feedback/follow-ups/")[1].split("/done")[0]
    client.post(
        f"/team/feedback/follow-ups/{task_id}/done",
        data={"csrf_token": csrf_from(page), "outcome": "contacted", "note": "Apologised."},
    )
    assert "Guest waited an hour" not in client.get("/team/feedback/follow-ups").get_data(as_text=True)
    assert "Apologised." in client.get("/team/feedback/follow-ups?status=done").get_data(as_text=True)


def test_follow_up_page_marks_open_tasks_past_their_due_time(client, world):
    """The rule the escalation job applies: an open task past its due time is overdue, one not yet due is not."""
    from portal.feedback.models import FollowUp

    _low_score(client, world)
    login(client, world, world.manager)
    page = client.get("/team/feedback/follow-ups").get_data(as_text=True)
    assert "Guest waited an hour" in page and 'class="card overdue"' not in page
    task = db.session.scalars(db.select(FollowUp)).one()
    task.due_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    page = client.get("/team/feedback/follow-ups").get_data(as_text=True)
    assert 'class="card overdue"' in page


def test_ticking_anonymous_on_the_phone_form_hides_the_author_or_says_why_not(client, world):
    """The checkbox's "y" counts: a suggestion is stored anonymous; a complaint is refused with the reason."""
    login(client, world, world.r1)
    token = csrf_from(client.get("/my/feedback/new").get_data(as_text=True))
    base = {
        "csrf_token": token,
        "unit_id": str(world.unit_a.id),
        "category": "noise",
        "description": "楼下装修太吵",
        "anonymous": "y",
    }
    resp = client.post("/my/feedback/new", data=base | {"kind": "suggestion"}, headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 302
    c = db.session.scalars(db.select(Complaint).order_by(Complaint.id.desc())).first()
    assert c.anonymous and c.unit_id is None
    stored = db.session.scalar(db.select(db.func.count(Complaint.id)))
    refused = client.post("/my/feedback/new", data=base | {"kind": "complaint"}, headers={"Accept-Language": "en"})
    assert refused.status_code == 400 and "Only suggestions can be anonymous" in refused.get_data(as_text=True)
    zh = client.post("/my/feedback/new", data=base | {"kind": "complaint"}, headers={"Accept-Language": "zh-CN"})
    page = zh.get_data(as_text=True)
    assert zh.status_code == 400 and "只有建议可以匿名" in page and "楼下装修太吵" in page  # the form again, as typed
    assert db.session.scalar(db.select(db.func.count(Complaint.id))) == stored
