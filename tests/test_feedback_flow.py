"""The complaint loop through the API: file, thread, triage, assign, answer, resolve, follow-up, reopen."""

import pytest
from feedback_support import file_json

from portal.core.errors import Refused
from portal.extensions import db
from portal.feedback import operations
from portal.feedback.models import Complaint, FollowUp, Survey
from portal.notify.models import Message


def _act(client, world, cid, action, body=None, user=None):
    return client.post(f"/api/v1/complaints/{cid}/{action}", json=body or {}, headers=world.token(user or world.guard))


def test_whole_complaint_loop(client, world):
    world.r1.phone = "+8613800000001"
    world.r1.locale = "en"
    db.session.commit()
    rh = world.token(world.r1)
    c = file_json(client, rh, category="security", description="Stranger tried the door of block A at night.")
    assert c["status"] == "new" and c["priority"] == "high"  # security starts high
    cid = c["id"]

    assert (
        client.post(f"/api/v1/complaints/{cid}/messages", json={"body": "It happened again at 23:10."}, headers=rh).status_code
        == 201
    )
    tri = _act(client, world, cid, "triage", {"priority": "urgent"})
    assert tri.status_code == 200 and tri.get_json()["status"] == "triaged"
    assert _act(client, world, cid, "assign", {"assignee_id": world.guard.id}).get_json()["assignee"]["id"] == world.guard.id

    # Nothing is resolved before the resident has an answer.
    refused = _act(client, world, cid, "resolve")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "response_required"

    answered = _act(client, world, cid, "respond", {"body": "We added a night patrol at block A."})
    assert answered.status_code == 200 and answered.get_json()["status"] == "in_progress"
    sms = db.session.scalars(db.select(Message).where(Message.purpose == "feedback_answer")).all()
    assert len(sms) == 1 and sms[0].to == "+8613800000001" and f"/my/feedback/{cid}" in sms[0].body
    assert "night patrol" not in sms[0].body  # the answer itself stays in the portal

    mine = client.get(f"/api/v1/complaints/{cid}", headers=rh).get_json()
    assert [m["kind"] for m in mine["messages"] if m["kind"] != "event"] == ["message", "response"]
    assert all(not m["internal"] for m in mine["messages"])
    assert mine["messages"][-1]["author"] is None  # residents see "the security team"

    resolved = _act(client, world, cid, "resolve")
    assert resolved.get_json()["status"] == "resolved"
    task = db.session.scalar(db.select(FollowUp).where(FollowUp.complaint_id == cid))
    assert task.kind == "visit" and task.status == "open"

    done = _act(client, world, cid, "follow-up", {"outcome": "solved", "note": "Called Mr Zhang, no more strangers."})
    assert done.status_code == 200 and done.get_json()["status"] == "closed"
    db.session.expire_all()
    assert db.session.get(FollowUp, task.id).outcome == "solved"
    survey = db.session.scalar(db.select(Survey).where(Survey.complaint_id == cid))
    assert survey is not None and survey.locale == "en" and survey.user_id == world.r1.id

    reopened = _act(client, world, cid, "reopen", {"reason": "Resident says it continues."})
    assert reopened.get_json()["status"] == "in_progress" and reopened.get_json()["reopen_count"] == 1
    # After reopening, a fresh answer is needed before resolving again.
    assert _act(client, world, cid, "resolve").status_code == 409
    assert _act(client, world, cid, "resolve", {"body": "Camera added at the door."}).get_json()["status"] == "resolved"


def test_close_is_refused_without_an_answer(app, world):
    """Operations enforce it even if a caller skips the API's order of steps."""
    c = _filed(app, world)
    c.status = "resolved"  # forced, as a buggy caller or a data fix might
    db.session.flush()
    with pytest.raises(Refused) as exc:
        operations.close(c, world.guard)
    assert exc.value.code == "response_required"
    with pytest.raises(Refused):
        operations.follow_up(c, world.guard, "solved", "ok")
    assert c.closed_at is None and c.status == "resolved"
    assert db.session.scalar(db.select(Survey).where(Survey.complaint_id == c.id)) is None


def test_not_solved_follow_up_reopens(client, world):
    cid = file_json(client, world.token(world.r1))["id"]
    _act(client, world, cid, "resolve", {"body": "Talked to the neighbour."})
    out = _act(client, world, cid, "follow-up", {"outcome": "not_solved", "note": "Still noisy."}).get_json()
    assert out["status"] == "in_progress" and out["reopen_count"] == 1


def test_internal_note_is_hidden_from_the_resident(client, world):
    rh = world.token(world.r1)
    cid = file_json(client, rh)["id"]
    note = client.post(
        f"/api/v1/complaints/{cid}/messages",
        json={"body": "Neighbour is the landlord's son", "internal": True},
        headers=world.token(world.guard),
    )
    assert note.status_code == 201 and note.get_json()["internal"] is True
    seen = client.get(f"/api/v1/complaints/{cid}/messages", headers=rh).get_json()["items"]
    assert all("landlord" not in (m["body"] or "") for m in seen)
    staff = client.get(f"/api/v1/complaints/{cid}/messages", headers=world.token(world.guard)).get_json()["items"]
    assert any("landlord" in (m["body"] or "") for m in staff)
    # A note is not an answer: the resident still has none.
    assert _act(client, world, cid, "resolve").status_code == 409


def test_validation(client, world):
    rh = world.token(world.r1)
    bad = client.post("/api/v1/complaints", json={"category": "weather", "description": ""}, headers=rh)
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["fields"]) == {"category", "description"}
    anon = client.post("/api/v1/complaints", json={"category": "noise", "description": "x", "anonymous": True}, headers=rh)
    assert anon.status_code == 400 and "anonymous" in anon.get_json()["error"]["fields"]
    rtl = client.post("/api/v1/complaints", json={"category": "noise", "description": "abc\u202edef"}, headers=rh)
    assert rtl.status_code == 400
    long = client.post("/api/v1/complaints", json={"category": "noise", "description": "噪" * 10_000}, headers=rh)
    assert long.status_code == 400
    assert (
        client.post("/api/v1/complaints", data="{not json", headers={**rh, "Content-Type": "application/json"}).status_code == 400
    )
    assert _act(client, world, file_json(client, rh)["id"], "triage", {"priority": "whenever"}).status_code == 400


def _filed(app, world):
    with app.test_request_context():
        from portal.feedback.filing import file_from

        c = file_from(world.r1, {"category": "noise", "description": "noise"})
        db.session.commit()
    return db.session.get(Complaint, c.id)
