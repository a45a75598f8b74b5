"""Ordinary verify calls are answered straight from WSGI (portal.core.direct) with exactly the view's answer.

Everything unusual (bad JSON, no or an unknown token, a query string, escaped NUL) goes to the view as
before, having done nothing; a failure after the decision is a JSON 500, never a second decision.
"""

import io
import json
import re
import sys

import pytest
from gate_support import events, oathtool_code

from portal.extensions import db
from portal.gate import api as gate_api
from portal.passes import codes
from portal.passes.operations import revoke_pass


@pytest.fixture
def view_calls(app, monkeypatch):
    """How many requests Flask served, with its hooks and the view (the direct path answers the rest)."""
    calls = []
    made = app.request_context

    def counted(environ):
        if environ["PATH_INFO"] == "/api/v1/gate/verify":  # not the test's own request contexts
            calls.append(environ["REQUEST_METHOD"])
        return made(environ)

    monkeypatch.setattr(app, "request_context", counted)
    return calls


def _answer(client, header, body, rid):
    resp = client.post("/api/v1/gate/verify", json=body, headers=header | {"X-Request-ID": rid})
    headers = sorted((k, v) for k, v in resp.headers.items() if k != "Date")
    return resp.status_code, json.loads(resp.data), headers, resp.data


def _both(app, client, header, body, monkeypatch):
    """(direct answer, view answer) of the same call, the view's with the direct path switched off."""
    direct = _answer(client, header, body, "reader-direct-0001")
    with monkeypatch.context() as m:
        m.setattr(app, "serve_direct", None)
        view = _answer(client, header, body, "reader-direct-0001")
    return direct, view


def test_ordinary_calls_are_answered_directly_with_the_views_exact_answer(app, client, world, view_calls, monkeypatch):
    _, header = world.device()
    _, elsewhere = world.device(name="other-gate", site=world.other_site, gates=[])
    unlimited = world.make_pass(max_entries=None, floors=[12])
    revoked = world.make_pass(max_entries=None)
    with app.test_request_context():
        revoke_pass(revoked, reason="test")
        db.session.commit()
    cases = [
        (header, {"qr": codes.qr_text(unlimited)}, "ok"),
        (header, {"qr": codes.qr_text(revoked)}, "revoked"),
        (elsewhere, {"qr": codes.qr_text(unlimited)}, "wrong_site"),
        (header, {"qr": "A" * 140}, "bad_signature"),
        (header, {"code": "99999123456"}, "unknown"),
        (header, {"plate": "京A00000"}, "unknown"),
        (header, {"qr": codes.qr_text(unlimited), "direction": "out"}, "ok"),
    ]
    for device_header, body, why in cases:
        direct, view = _both(app, client, device_header, body, monkeypatch)
        assert direct == view, body
        assert direct[0] == 200 and direct[1]["reason"] == why
    assert len(view_calls) == len(cases)  # only the calls made with the direct path off reached the view
    granted = _answer(client, header, cases[0][1], "reader-direct-0002")
    assert granted[1]["decision"] == "grant" and granted[1]["floors"] == [12]
    names = {k for k, _ in granted[2]}
    assert {"X-Request-ID", "Content-Security-Policy", "X-Content-Type-Options", "Cache-Control"} <= names
    assert ("X-Request-ID", "reader-direct-0002") in granted[2] and "Set-Cookie" not in names


def test_a_keypad_code_is_decided_once_and_committed_on_the_direct_path(client, world, view_calls):
    _, header = world.device()
    p = world.make_pass(max_entries=1)
    code = oathtool_code(p)
    first = client.post("/api/v1/gate/verify", json={"code": code}, headers=header).get_json()
    again = client.post("/api/v1/gate/verify", json={"code": code}, headers=header).get_json()
    assert (first["decision"], first["reason"]) == ("grant", "ok") and again["reason"] == "replayed"
    assert not view_calls
    assert [e.reason for e in events(pass_id=p.id)] == ["ok", "replayed"]


@pytest.mark.parametrize(
    "call, status, code",
    [
        (dict(data="{not json", content_type="application/json"), 400, "bad_json"),
        (dict(data='{"qr": "\\u0000"}', content_type="application/json"), 400, "bad_characters"),
        (dict(json={"qr": "x", "code": "1"}), 400, "invalid"),
        (dict(json=["qr"]), 400, "bad_json"),
        (dict(json={"qr": "x"}, query_string={"debug": "1"}), 200, None),
        (dict(json={"qr": "x"}, headers={"Authorization": "Bearer vpd_" + "0" * 43}), 401, "unauthorized"),
        (dict(json={"qr": "x"}, headers={"Authorization": "Bearer "}), 401, "unauthorized"),
        (dict(json={"qr": "x"}, headers={}), 401, "unauthorized"),
    ],
)
def test_unusual_calls_go_to_the_view_having_done_nothing(client, world, view_calls, call, status, code):
    _, header = world.device()
    call = dict(call)
    call["headers"] = call.get("headers", header)
    resp = client.post("/api/v1/gate/verify", **call)
    assert resp.status_code == status and len(view_calls) == 1
    assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-ID"])
    if code is not None:
        assert resp.get_json()["error"]["code"] == code
    assert len(events()) == (1 if status == 200 else 0)  # one decision, never two


def test_a_failure_after_the_decision_is_a_json_500_and_the_attempt_is_kept_once(client, world, view_calls, monkeypatch):
    _, header = world.device()
    p = world.make_pass(max_entries=None)

    def broken(outcome, method, started):
        raise RuntimeError("answer failed")

    monkeypatch.setattr(gate_api, "_answer_body", broken)
    resp = client.post(
        "/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers=header | {"X-Request-ID": "reader-0003-abcd"}
    )
    assert resp.status_code == 500 and resp.get_json()["error"]["code"] == "internal"
    assert resp.headers["X-Request-ID"] == "reader-0003-abcd" and resp.headers["Cache-Control"] == "no-store"
    assert not view_calls and [e.reason for e in events(pass_id=p.id)] == ["ok"]


@pytest.mark.parametrize(
    "body, content_type",
    [
        ('{"qr": "x"}', "application/x-www-form-urlencoded"),  # the view reads a form: no JSON body
        ('{"qr": "x"}'.encode("utf-16"), "application/json"),  # JSON travels as UTF-8 only
        (b'{"plate": "\xed\xa0\x80"}', "application/json"),  # a raw lone surrogate, not an escape
    ],
)
def test_bodies_the_view_refuses_are_refused_on_both_paths(app, client, world, view_calls, monkeypatch, body, content_type):
    _, header = world.device()
    answers = []
    for direct in (True, False):
        with monkeypatch.context() as m:
            if not direct:
                m.setattr(app, "serve_direct", None)
            resp = client.post("/api/v1/gate/verify", data=body, content_type=content_type, headers=header)
            answers.append((resp.status_code, resp.get_json()["error"]["code"]))
    assert answers == [(400, "bad_json")] * 2 and len(view_calls) == 2 and not events()


def test_an_unknown_token_is_read_once_and_answered_by_the_view(client, world, view_calls, monkeypatch):
    from portal.core import reads

    p = world.make_pass(max_entries=None)
    statements = []
    read = reads.rows
    monkeypatch.setattr(reads, "rows", lambda stmt, **values: statements.append(stmt) or read(stmt, **values))
    resp = client.post("/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers={"Authorization": "Bearer vpd_" + "1" * 43})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    assert len(view_calls) == 1 and len(statements) == 1  # the direct path's read; the view reuses its refusal


def test_a_content_length_in_other_digits_goes_to_the_view(app, world):
    _, header = world.device()
    body = b'{"qr": "x"}'
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/gate/verify",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "portal.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "1²",
        "HTTP_AUTHORIZATION": header["Authorization"],
        "HTTP_HOST": "portal.test",
    }
    seen = {}
    app.wsgi_app(environ, lambda status, headers, exc=None: seen.update(status=status, headers=dict(headers)))
    assert seen["status"].startswith("400") and seen["headers"]["X-Request-ID"]
