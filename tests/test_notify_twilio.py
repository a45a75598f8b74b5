"""The Twilio backend drives the real client against a local server; vendor errors become ours."""

from datetime import timedelta

import pytest
from notify_support import FROM, FakeTwilio, closed_port_url, use_twilio
from twilio.http.http_client import TwilioHttpClient

from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.notify.models import Message
from portal.notify.twilio_sms import RedirectingHttpClient
from portal.notify.worker import send_pending

PHONE = "+8613812345678"


@pytest.fixture
def fake_twilio():
    """A running fake Twilio."""
    with FakeTwilio() as fake:
        yield fake


def _queued_pass(world):
    p = world.make_pass(visitor_phone=PHONE, notify="sms")
    return p, db.session.scalars(db.select(Message).where(Message.pass_id == p.id)).one()


def _reload(msg_id):
    db.session.expire_all()
    return db.session.get(Message, msg_id)


def test_sends_with_from_basic_auth_and_status_callback(app, world, fake_twilio):
    use_twilio(app, fake_twilio.base_url)
    _, msg = _queued_pass(world)
    assert send_pending() == {"sent": 1, "retry": 0, "failed": 0}
    assert fake_twilio.problems == []
    [form] = fake_twilio.requests
    assert form["To"] == PHONE and form["From"] == FROM and "MessagingServiceSid" not in form
    assert form["Body"] == msg.body and "/p/" in form["Body"]
    assert form["StatusCallback"] == "https://portal.example.cn/api/v1/sms/twilio/status"
    msg = _reload(msg.id)
    assert msg.status == "sent" and msg.provider_id == fake_twilio.sids[0] and msg.sent_at is not None
    assert msg.backend == "twilio" and msg.attempts == 1
    assert send_pending() == {"sent": 0, "retry": 0, "failed": 0}  # never twice
    assert len(fake_twilio.requests) == 1


def test_messaging_service_replaces_from(app, world, fake_twilio):
    use_twilio(app, fake_twilio.base_url, TWILIO_MESSAGING_SERVICE_SID="MG" + "2" * 32)
    _queued_pass(world)
    send_pending()
    [form] = fake_twilio.requests
    assert form["MessagingServiceSid"] == "MG" + "2" * 32 and "From" not in form
    assert fake_twilio.problems == []


@pytest.mark.parametrize("code, words", [(21211, "not valid"), (21614, "not a mobile"), (21610, "unsubscribed")])
def test_provider_rejection_fails_with_code_and_message(app, world, client, fake_twilio, code, words):
    use_twilio(app, fake_twilio.base_url)
    fake_twilio.reply = (400, code)
    p, msg = _queued_pass(world)
    assert send_pending()["failed"] == 1
    msg = _reload(msg.id)
    assert (msg.status, msg.error_code, msg.provider_id) == ("failed", str(code), None)
    assert words in msg.error
    headers = world.token(world.r1) | {"Accept-Language": "en"}
    shown = client.get(f"/api/v1/passes/{p.id}", headers=headers).get_json()["messages"]
    assert [(m["status"], m["error"]) for m in shown] == [("failed", str(code))]
    assert words in shown[0]["error_message"]
    assert send_pending()["failed"] == 0 and len(fake_twilio.requests) == 1  # not retried


@pytest.mark.parametrize("reply, code", [((500, 20500), "20500"), ((503, None), "http_503"), ((429, 20429), "20429")])
def test_provider_outage_is_retried_later(app, world, fake_twilio, reply, code):
    use_twilio(app, fake_twilio.base_url)
    fake_twilio.reply = reply
    _, msg = _queued_pass(world)
    before = utcnow()
    assert send_pending()["retry"] == 1
    msg = _reload(msg.id)
    assert (msg.status, msg.error_code, msg.attempts) == ("queued", code, 1)
    assert msg.next_attempt_at > before + timedelta(seconds=10)
    assert send_pending()["retry"] == 0  # not due yet
    # Time passes and Twilio is back: the same message goes out, exactly once.
    fake_twilio.reply = (201, None)
    msg.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert send_pending()["sent"] == 1
    msg = _reload(msg.id)
    assert (msg.status, msg.attempts, msg.error_code) == ("sent", 2, None)
    assert len(fake_twilio.requests) == 2


def test_connection_refused_is_retried_with_growing_backoff_then_fails(app, world):
    use_twilio(app, closed_port_url(), SMS_MAX_ATTEMPTS=3)
    _, msg = _queued_pass(world)
    delays = []
    for _ in range(2):
        start = utcnow()
        assert send_pending()["retry"] == 1
        msg = _reload(msg.id)
        assert msg.status == "queued" and msg.error_code == "network" and "reached" in msg.error
        delays.append((msg.next_attempt_at - start).total_seconds())
        msg.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert 20 < delays[0] < delays[1] <= 3600
    assert send_pending()["failed"] == 1
    msg = _reload(msg.id)
    assert (msg.status, msg.error_code, msg.attempts) == ("failed", "network", 3)


def test_wrong_credentials_are_not_a_bad_number(app, world, fake_twilio):
    use_twilio(app, fake_twilio.base_url, TWILIO_AUTH_TOKEN="wrong")
    fake_twilio.reply = (401, 20003)
    _, msg = _queued_pass(world)
    assert send_pending()["retry"] == 1
    assert fake_twilio.problems == ["auth"]
    assert _reload(msg.id).error_code == "20003"


def test_api_base_keeps_a_path_prefix(monkeypatch):
    seen = []
    monkeypatch.setattr(TwilioHttpClient, "request", lambda self, method, url, *a, **k: seen.append(url))
    RedirectingHttpClient("http://127.0.0.1:9/gw").request(
        "POST", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1"
    )
    assert seen == ["http://127.0.0.1:9/gw/2010-04-01/Accounts/AC1/Messages.json?x=1"]


def test_fake_server_really_checks(app, world):
    """The fake notices a wrong account path, so the assertions above can fail."""
    with FakeTwilio(sid="AC" + "9" * 32) as other:
        use_twilio(app, other.base_url)
        _queued_pass(world)
        send_pending()
        assert any(p.startswith("path ") for p in other.problems) and "auth" in other.problems
