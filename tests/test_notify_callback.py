"""Twilio's signed status callback updates delivery status; unsigned or forged ones change nothing."""

import pytest
from notify_support import TOKEN, use_twilio
from twilio.request_validator import RequestValidator

from portal.extensions import db
from portal.notify.models import Message

PATH = "/api/v1/sms/twilio/status"
PUBLIC = "https://portal.example.cn"


@pytest.fixture
def sent(app, world):
    """A pass whose SMS Twilio accepted as SM…01."""
    use_twilio(app, "http://127.0.0.1:9")
    p = world.make_pass(visitor_phone="+8613812345678", notify="sms")
    msg = db.session.scalars(db.select(Message).where(Message.pass_id == p.id)).one()
    msg.status, msg.provider_id = "sent", "SM" + "0" * 30 + "01"
    db.session.commit()
    return p, msg


def _post(client, params, url=PUBLIC + PATH, token=TOKEN, signature=None):
    sig = signature if signature is not None else RequestValidator(token).compute_signature(url, params)
    headers = {"X-Twilio-Signature": sig} if sig else {}
    return client.post(PATH, data=params, headers=headers)


def _status(client, world, p):
    return client.get(f"/api/v1/passes/{p.id}", headers=world.token(world.r1)).get_json()["messages"][0]


def _report(msg, status, **extra):
    return {"MessageSid": msg.provider_id, "AccountSid": "AC" + "1" * 32, "MessageStatus": status, **extra}


def test_signed_delivery_report_shows_delivered(client, world, sent):
    p, msg = sent
    resp = _post(client, _report(msg, "delivered"))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["updated"] is True
    shown = _status(client, world, p)
    assert shown["status"] == "delivered" and shown["delivered_at"] is not None


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_missing_or_forged_signature_is_refused(client, world, sent, signature):
    p, msg = sent
    resp = _post(client, _report(msg, "delivered"), signature=signature)
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "bad_signature"
    assert _status(client, world, p)["status"] == "sent"


def test_signature_over_other_params_or_with_other_token_is_refused(client, world, sent):
    p, msg = sent
    good = RequestValidator(TOKEN).compute_signature(PUBLIC + PATH, _report(msg, "failed"))
    assert _post(client, _report(msg, "delivered"), signature=good).status_code == 403  # params tampered
    assert _post(client, _report(msg, "delivered"), token="someone-elses-token").status_code == 403
    assert _post(client, _report(msg, "delivered"), url="https://evil.example" + PATH).status_code == 403
    assert _status(client, world, p)["status"] == "sent"


def test_regressions_are_ignored(client, world, sent):
    p, msg = sent
    assert _post(client, _report(msg, "delivered")).status_code == 200
    late = _post(client, _report(msg, "sent"))
    assert late.status_code == 200 and late.get_json()["updated"] is False
    assert _post(client, _report(msg, "queued")).get_json()["updated"] is False
    assert _status(client, world, p)["status"] == "delivered"


def test_undelivered_keeps_error_code_and_a_human_message(client, world, sent):
    p, msg = sent
    assert _post(client, _report(msg, "undelivered", ErrorCode="30003")).status_code == 200
    shown = _status(client, world, p)
    assert (shown["status"], shown["error"]) == ("undelivered", "30003")
    db.session.expire_all()
    assert "switched off" in db.session.get(Message, msg.id).error


def test_unknown_message_is_acknowledged_and_changes_nothing(client, sent):
    resp = _post(client, {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"})
    assert resp.status_code == 200 and resp.get_json()["updated"] is False


def test_without_public_base_url_the_request_url_is_signed(app, client, world, sent):
    p, msg = sent
    app.config["PUBLIC_BASE_URL"] = ""
    assert _post(client, _report(msg, "delivered")).status_code == 403  # signed for the public host
    assert _post(client, _report(msg, "delivered"), url="http://portal.test" + PATH).status_code == 200
    assert _status(client, world, p)["status"] == "delivered"


def test_callback_is_refused_when_twilio_is_not_configured(app, client, sent):
    _, msg = sent
    app.config["TWILIO_AUTH_TOKEN"] = None
    assert _post(client, _report(msg, "delivered")).status_code == 403
