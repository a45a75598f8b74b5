"""Satisfaction surveys: sent when a visit ends, answered once through an expiring link, low scores followed up."""

import re
from datetime import timedelta

from feedback_support import csrf_from

from portal.core.jobs import run_once
from portal.core.timeutil import utcnow
from portal.events.operations import record_event
from portal.extensions import db
from portal.feedback import operations as feedback_ops
from portal.feedback.models import FollowUp, Survey
from portal.notify.models import Message


def _ended_visit(world, granted=True, exited=False, minutes_ago=1):
    """A pass that ended minutes ago, with a granted entry (and exit) at the gate."""
    now = utcnow()
    p = world.make_pass(valid_from=now - timedelta(hours=3), valid_until=now - timedelta(minutes=minutes_ago))
    if granted:
        with world.app.test_request_context():
            record_event(
                site_id=world.site.id,
                gate_id=world.gate.id,
                method="qr",
                pass_id=p.id,
                decision="grant",
                reason="ok",
                direction="in",
                at=now - timedelta(hours=2),
            )
            if exited:
                record_event(
                    site_id=world.site.id,
                    gate_id=world.gate.id,
                    method="qr",
                    pass_id=p.id,
                    decision="grant",
                    reason="ok",
                    direction="out",
                    at=now - timedelta(hours=1),
                )
            db.session.commit()
    return p


def _token_from_sms():
    msg = db.session.scalars(db.select(Message).where(Message.purpose == "survey").order_by(Message.id.desc())).first()
    return msg, re.search(r"/s/([A-Za-z0-9_-]{20,})", msg.body).group(1)


def test_whole_loop_visit_ends_low_score_follow_up_closed(app, client, world):
    world.r1.phone = "+8613800000001"
    world.r1.locale = "en"
    db.session.commit()
    p = _ended_visit(world)

    run_once(app, only=["feedback_surveys"])  # the worker's job
    survey = db.session.scalar(db.select(Survey).where(Survey.pass_id == p.id))
    assert survey is not None and survey.kind == "visit" and survey.user_id == world.r1.id and survey.locale == "en"
    msg, token = _token_from_sms()
    assert msg.to == "+8613800000001" and "How was your visitor's entry?" in msg.body
    assert survey.expires_at - survey.created_at == timedelta(days=14)

    run_once(app, only=["feedback_surveys"])  # scanned once: no second survey
    assert db.session.scalar(db.select(db.func.count(Survey.id))) == 1

    resp = client.post(f"/api/v1/surveys/{token}", json={"score": 2, "comment": "The guard kept my guest waiting 20 minutes."})
    assert resp.status_code == 200 and resp.get_json()["follow_up"] is True
    again = client.post(f"/api/v1/surveys/{token}", json={"score": 5})
    assert again.status_code == 409

    gh = world.token(world.guard)
    tasks = client.get("/api/v1/follow-ups", headers=gh).get_json()["items"]
    assert len(tasks) == 1 and tasks[0]["kind"] == "survey" and tasks[0]["survey"]["score"] == 2
    assert tasks[0]["person"]["name"] == "张伟"
    done = client.post(
        f"/api/v1/follow-ups/{tasks[0]['id']}/done",
        headers=gh,
        json={"outcome": "contacted", "note": "Apologised; walk-in checks now take under 5 minutes."},
    )
    assert done.status_code == 200 and done.get_json()["status"] == "done" and done.get_json()["outcome"] == "contacted"
    assert client.get("/api/v1/follow-ups", headers=gh).get_json()["items"] == []
    assert (
        client.post(
            f"/api/v1/follow-ups/{tasks[0]['id']}/done", headers=gh, json={"outcome": "contacted", "note": "x"}
        ).status_code
        == 409
    )


def test_high_score_opens_no_task(client, world):
    _ended_visit(world)
    made = feedback_ops.scan_ended_passes()
    assert len(made) == 1
    token = made[0].token
    assert client.post(f"/api/v1/surveys/{token}", json={"score": 4}).get_json()["follow_up"] is False
    assert db.session.scalar(db.select(db.func.count(FollowUp.id))) == 0


def test_which_passes_get_a_survey(world):
    no_entry = _ended_visit(world, granted=False)
    long_ago = _ended_visit(world, minutes_ago=60 * 24 * 5)
    now = utcnow()
    still_valid = world.make_pass(valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=5))
    exited = world.make_pass(valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=5))
    with world.app.test_request_context():
        record_event(site_id=world.site.id, method="qr", pass_id=still_valid.id, decision="grant", reason="ok", direction="in")
        record_event(site_id=world.site.id, method="qr", pass_id=exited.id, decision="grant", reason="ok", direction="in")
        record_event(site_id=world.site.id, method="qr", pass_id=exited.id, decision="grant", reason="ok", direction="out")
        db.session.commit()
    ended = _ended_visit(world)
    got = {s.pass_id for s in feedback_ops.scan_ended_passes()}
    assert got == {ended.id, exited.id}
    assert no_entry.id not in got and long_ago.id not in got and still_valid.id not in got


def test_expired_link_is_refused(client, world):
    _ended_visit(world)
    s = feedback_ops.scan_ended_passes()[0]
    s.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    resp = client.post(f"/api/v1/surveys/{s.token}", json={"score": 5})
    assert resp.status_code == 410 and resp.get_json()["error"]["code"] == "expired"
    page = client.get(f"/s/{s.token}")
    assert page.status_code == 410 and "<form" not in page.get_data(as_text=True)


def test_unknown_token_and_bad_scores(client, world):
    assert client.post("/api/v1/surveys/not-a-real-token-at-all", json={"score": 5}).status_code == 404
    _ended_visit(world)
    token = feedback_ops.scan_ended_passes()[0].token
    for bad in (0, 6, "five", True, None, 3.5):
        assert client.post(f"/api/v1/surveys/{token}", json={"score": bad}).status_code == 400
    assert client.post(f"/api/v1/surveys/{token}", json={"score": 5, "comment": "x" * 1001}).status_code == 400


def test_survey_page_in_the_persons_language_with_csrf(client, world):
    world.r1.locale = "en"
    db.session.commit()
    _ended_visit(world)
    token = feedback_ops.scan_ended_passes()[0].token
    page = client.get(f"/s/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="en"' in html and "How was your visitor" in html
    assert client.post(f"/s/{token}", data={"score": "1"}).status_code == 403  # no CSRF token
    ok = client.post(f"/s/{token}", data={"score": "1", "comment": "slow", "csrf_token": csrf_from(html)})
    assert ok.status_code == 200 and "Thank you" in ok.get_data(as_text=True)
    assert "Someone from the team will contact you." in ok.get_data(as_text=True)  # a low score opened a follow-up
    assert db.session.scalar(db.select(FollowUp)).kind == "survey"
    second = client.post(f"/s/{token}", data={"score": "5", "csrf_token": csrf_from(html)})
    assert second.status_code == 409 and "<form" not in second.get_data(as_text=True)
    zh = client.get(f"/s/{token}?lang=zh").get_data(as_text=True)
    assert '<html lang="zh-CN"' in zh


def test_closed_complaint_survey_reaches_the_complainant(client, world):
    from feedback_support import file_json

    world.r2.phone = "+8613800000002"
    db.session.commit()
    cid = file_json(client, world.token(world.r2))["id"]
    gh = world.token(world.guard)
    client.post(f"/api/v1/complaints/{cid}/resolve", json={"body": "Fixed the barrier."}, headers=gh)
    client.post(f"/api/v1/complaints/{cid}/follow-up", json={"outcome": "solved", "note": "ok"}, headers=gh)
    msg, token = _token_from_sms()
    assert msg.to == "+8613800000002" and f"#{cid}" in msg.body
    low = client.post(f"/api/v1/surveys/{token}", json={"score": 1})
    assert low.get_json()["follow_up"] is True
    task = db.session.scalar(db.select(FollowUp).where(FollowUp.kind == "survey"))
    assert task.complaint_id == cid
    # Not solved after all: the filing goes back to work.
    client.post(f"/api/v1/follow-ups/{task.id}/done", json={"outcome": "not_solved", "note": "barrier broke again"}, headers=gh)
    assert client.get(f"/api/v1/complaints/{cid}", headers=gh).get_json()["status"] == "in_progress"


def test_survey_page_shows_a_refused_answer_again_in_the_surveys_language(client, world):
    """Stars out of range: the form comes back with why (in the survey's language, or the one picked), nothing recorded."""
    _ended_visit(world)
    s = feedback_ops.scan_ended_passes()[0]
    for lang, why in (("zh", "请选择 1 到 5 星。"), ("en", "Choose 1 to 5 stars.")):
        html = client.get(f"/s/{s.token}?lang={lang}").get_data(as_text=True)
        resp = client.post(f"/s/{s.token}?lang={lang}", data={"score": "9", "comment": "慢", "csrf_token": csrf_from(html)})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400 and why in page and "<form" in page
    db.session.refresh(s)
    assert s.answered_at is None and s.score is None
    assert db.session.scalar(db.select(db.func.count(FollowUp.id))) == 0
    good = client.post(f"/s/{s.token}?lang=en", data={"score": "4", "csrf_token": csrf_from(html)})
    assert good.status_code == 200 and "Thank you" in good.get_data(as_text=True)
    assert "contact you" not in good.get_data(as_text=True)  # no follow-up for a good score
