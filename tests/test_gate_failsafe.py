"""Fail closed: bad bodies are 400 JSON, database errors deny, only device tokens may ask."""

import logging

import pytest
from gate_support import events, reason, verify
from sqlalchemy.exc import OperationalError

from portal.gate import operations, queries
from portal.passes import codes

URL = "/api/v1/gate/verify"


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1, 2]",
        b"null",
        b'"qr"',
        b"\xff\xfe\x00",
        b"",
        b'{"qr": 123}',
        b'{"qr": ["a"]}',
        b'{"code": {"x": 1}}',
        b'{"plate": true}',
        b'{"qr": "AAAA", "code": "12345123456"}',
        b'{"direction": "in"}',
        b"{}",
        b'{"qr": "AAAA", "direction": "up"}',
        b'{"qr": "AAAA", "direction": ["in"]}',
        b'{"qr": "' + b"A" * 70_000 + b'"}',
    ],
)
def test_malformed_bodies_are_400_json(client, world, raw):
    _, header = world.device()
    resp = client.post(URL, data=raw, headers=header | {"Content-Type": "application/json"})
    assert resp.status_code == 400, (raw[:40], resp.status_code)
    assert resp.is_json and resp.get_json()["error"]["code"]
    assert events() == []


def test_database_error_mid_decision_denies_and_is_recorded(client, world, monkeypatch, caplog):
    p = world.make_pass(max_entries=1, visitor_name="Robert'); DROP TABLE passes;--\nFAKE LOG LINE")
    _, header = world.device()

    params = {"plate": "京A12345"}  # what a real driver error would quote; it must not reach the log

    def broken(pass_id, direction):
        raise OperationalError("UPDATE passes ...", params, Exception("server closed the connection"))

    monkeypatch.setattr(operations, "consume", broken)
    with caplog.at_level(logging.INFO, logger="portal.gate"):
        status, data = verify(client, header, qr=codes.qr_text(p))
    assert status == 200 and data["decision"] == "deny" and data["reason"] == "error"
    assert data["floors"] == [] and "pass_id" not in data
    [event] = events()
    assert (event.reason, event.decision, event.details) == ("error", "deny", {"error": "OperationalError"})
    assert "OperationalError" in caplog.text
    assert "京A12345" not in caplog.text and "FAKE LOG LINE" not in caplog.text
    monkeypatch.undo()
    # Nothing was consumed: the pass still works once the database is back.
    assert reason(client, header, qr=codes.qr_text(p)) == ("grant", "ok")


def test_error_in_the_read_path_denies(client, world, monkeypatch):
    p = world.make_pass()
    _, header = world.device()

    def refused(*args):
        raise OperationalError("SELECT ...", {}, Exception("server closed the connection"))

    # The joint token-and-pass read fails; the decision reads again on its own, and that fails too.
    monkeypatch.setattr(queries, "device_and_pass", refused)
    monkeypatch.setattr(queries, "pass_for_qr", lambda pass_id: 1 / 0)
    assert reason(client, header, qr=codes.qr_text(p)) == ("deny", "error")
    assert [e.reason for e in events()] == ["error"]
    monkeypatch.undo()
    assert reason(client, header, qr=codes.qr_text(p)) == ("grant", "ok")


def test_commit_failure_denies(client, world, monkeypatch):
    from portal.extensions import db

    p = world.make_pass(max_entries=1)
    _, header = world.device()
    real_commit = db.session.commit
    calls = []

    def flaky_commit():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        return real_commit()

    monkeypatch.setattr(db.session, "commit", flaky_commit)
    assert reason(client, header, qr=codes.qr_text(p)) == ("deny", "error")
    monkeypatch.undo()
    assert [e.reason for e in events()] == ["error"]
    assert reason(client, header, qr=codes.qr_text(p)) == ("grant", "ok")


def test_slow_decision_past_deadline_denies(app, client, world):
    app.config["GATE_DECISION_DEADLINE"] = -1.0
    p = world.make_pass()
    _, header = world.device()
    assert reason(client, header, qr=codes.qr_text(p)) == ("deny", "error")


def test_user_tokens_are_not_device_tokens(client, world):
    p = world.make_pass()
    text = codes.qr_text(p)
    for user in (world.r1, world.guard, world.manager):
        resp = client.post(URL, json={"qr": text}, headers=world.token(user))
        assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    for header in ({}, {"Authorization": "Bearer vpd_not-a-real-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        # No CSRF token either: the device endpoint is exempt and answers 401, not a CSRF 403.
        assert client.post(URL, json={"qr": text}, headers=header).status_code == 401
    assert events() == []


def test_cookie_session_cannot_call_verify(client, world):
    p = world.make_pass()
    client.post("/login", data={"login": "r1", "password": world.PASSWORD})
    resp = client.post(URL, json={"qr": codes.qr_text(p)})
    assert resp.status_code in (401, 403)


def test_a_wrong_token_is_401_whatever_the_body(client, world):
    p = world.make_pass()
    _, header = world.device()
    wrong = {"Authorization": "Bearer vpd_" + "x" * 40}
    for body in ({"qr": codes.qr_text(p)}, {"qr": "garbage"}, {"code": "0000000000"}, {"nothing": 1}, []):
        resp = client.post("/api/v1/gate/verify", json=body, headers=wrong)
        assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized", body
    # With the right token the same malformed bodies are 400s, and nothing was recorded for any of it.
    assert client.post("/api/v1/gate/verify", json={"nothing": 1}, headers=header).status_code == 400
    assert events() == []


def test_signing_keys_unreadable_denies(client, world, monkeypatch):
    from portal.passes import keys

    p = world.make_pass()
    _, header = world.device()
    text = codes.qr_text(p)
    monkeypatch.setattr(keys, "public_keys", lambda: 1 / 0)
    assert reason(client, header, qr=text) == ("deny", "error")
    monkeypatch.undo()
    assert reason(client, header, qr=text) == ("grant", "ok")
