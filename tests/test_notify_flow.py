"""From a resident's invitation to a sent SMS: after commit only, through the worker job and the CLI."""

import logging
import threading
from datetime import timedelta

import pytest
from conftest import pass_body
from notify_support import login_page_session, page_csrf

from portal.core import jobs
from portal.core.errors import ApiError
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.notify.models import Message
from portal.notify.operations import queue_sms
from portal.notify.worker import claim, send_pending

PHONE = "+8613812345678"


def _messages(client, world, pid):
    return client.get(f"/api/v1/passes/{pid}", headers=world.token(world.r1)).get_json()["messages"]


def test_invite_then_worker_sends_and_resend_adds_a_second_message(app, client, world, caplog, monkeypatch):
    # migrations/env.py's fileConfig() disables loggers that exist when a migration test runs first.
    monkeypatch.setattr(logging.getLogger("portal.notify.backends"), "disabled", False)
    caplog.set_level(logging.INFO, logger="portal.notify")
    h = world.token(world.r1)
    created = client.post("/api/v1/passes", json=pass_body(), headers=h).get_json()
    assert [m["status"] for m in _messages(client, world, created["id"])] == ["queued"]
    jobs.run_once(app, only=["sms_outbox"])
    assert [m["status"] for m in _messages(client, world, created["id"])] == ["sent"]
    # The console backend logged it, but never the full phone or the pass link (a bearer secret).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "portal.notify.backends")
    token = created["pass_url"].rsplit("/", 1)[-1]
    assert "+86 138****5678" in logged
    assert PHONE not in logged and token not in logged and token[:4] in logged

    assert client.post(f"/api/v1/passes/{created['id']}/resend", headers=h).status_code == 202
    shown = _messages(client, world, created["id"])
    assert [(m["purpose"], m["status"]) for m in shown] == [("resend", "queued"), ("pass", "sent")]
    jobs.run_once(app, only=["sms_outbox"])
    assert [m["status"] for m in _messages(client, world, created["id"])] == ["sent", "sent"]


def test_a_request_that_rolls_back_sends_nothing(app, client, world):
    seen_by_worker = {}

    def worker_pass():
        with app.app_context():
            seen_by_worker["counts"] = send_pending()
            db.session.remove()

    @app.post("/test/queue-and-maybe-fail")
    def queue_and_maybe_fail():
        queue_sms(PHONE, "hello", "test", site_id=world.site.id)
        db.session.flush()
        # A worker running while this request is still open must not see the row.
        t = threading.Thread(target=worker_pass)
        t.start()
        t.join()
        if app.config.get("FAIL_NOW"):
            raise ApiError(409, "conflict", "Something went wrong on our side.")
        return {"ok": True}

    h = world.token(world.r1)
    app.config["FAIL_NOW"] = True
    assert client.post("/test/queue-and-maybe-fail", headers=h).status_code == 409
    assert seen_by_worker["counts"]["sent"] == 0
    assert send_pending()["sent"] == 0
    assert db.session.scalars(db.select(Message)).all() == []

    app.config["FAIL_NOW"] = False
    assert client.post("/test/queue-and-maybe-fail", headers=h).status_code == 200
    assert seen_by_worker["counts"]["sent"] == 0  # still not committed while the view ran
    assert send_pending()["sent"] == 1  # committed now: it goes


def test_cli_send_pending(app, world):
    world.make_pass(visitor_phone=PHONE, notify="sms")
    result = app.test_cli_runner().invoke(args=["notify", "send-pending"])
    assert result.exit_code == 0, result.output
    assert "sent=1" in result.output
    assert db.session.scalars(db.select(Message.status)).all() == ["sent"]


def test_job_is_registered_every_second(app):
    fn, every = jobs.JOBS["sms_outbox"]
    assert every == 1


def test_claim_is_exclusive_and_an_expired_lease_is_taken_back(app, world):
    world.make_pass(visitor_phone=PHONE, notify="sms")
    first = claim()
    assert len(first) == 1
    assert claim() == []  # a second worker gets nothing while the lease runs
    # The first worker died mid-send; once the lease runs out the message is picked up again.
    later = utcnow() + timedelta(seconds=app.config.get("SMS_LEASE_SECONDS", 300) + 1)
    assert claim(now=later) == first
    msg = db.session.get(Message, first[0])
    assert (msg.status, msg.attempts) == ("sending", 2)


def test_unknown_backend_refuses_to_run(app, world):
    world.make_pass(visitor_phone=PHONE, notify="sms")
    app.config["SMS_BACKEND"] = "carrier-pigeon"
    with pytest.raises(ValueError, match="carrier-pigeon"):
        send_pending()
    assert db.session.scalars(db.select(Message.status)).all() == ["queued"]  # nothing claimed


def test_revoked_before_sending_is_not_sent(app, client, world):
    h = world.token(world.r1)
    pid = client.post("/api/v1/passes", json=pass_body(), headers=h).get_json()["id"]
    assert client.post(f"/api/v1/passes/{pid}/revoke", headers=h).status_code == 200
    assert send_pending() == {"sent": 0, "retry": 0, "failed": 1}
    shown = client.get(f"/api/v1/passes/{pid}", headers=h | {"Accept-Language": "en"}).get_json()["messages"]
    assert [(m["status"], m["error"]) for m in shown] == [("failed", "pass_revoked")]
    assert "revoked" in shown[0]["error_message"]


def test_resident_page_shows_failure_and_send_again_queues_another(app, client, world):
    p = world.make_pass(visitor_phone=PHONE, notify="sms")
    msg = db.session.scalars(db.select(Message).where(Message.pass_id == p.id)).one()
    msg.status, msg.error_code, msg.error = "failed", "21211", "The phone number is not valid."
    db.session.commit()
    assert login_page_session(client, "r1", world.PASSWORD).status_code == 302
    page = client.get(f"/my/passes/{p.id}?lang=en").get_data(as_text=True)
    assert "msg-failed" in page and "(21211)" in page and "The phone number is not valid." in page
    token = page_csrf(client, f"/my/passes/{p.id}")
    assert client.post(f"/my/passes/{p.id}/resend", data={"csrf_token": token}).status_code == 302
    send_pending()
    page = client.get(f"/my/passes/{p.id}?lang=en").get_data(as_text=True)
    assert page.count('class="msg msg-') == 2 and "msg-sent" in page
