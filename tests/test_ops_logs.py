"""Log lines are JSON with the request's id, and carry no phone, name, ID number or token."""

import io
import json
import logging

import pytest
from conftest import pass_body
from gate_support import reason
from support import login

from portal.core import logs
from portal.extensions import db
from portal.notify import worker as sms_worker
from portal.passes import codes
from portal.passes.models import Pass

PHONE = "+8613812345678"
VISITOR = "欧阳娜娜"
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def captured():
    """Every record of every logger, down to DEBUG, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_day_at_the_gate_leaves_no_personal_data_or_tokens_in_the_log(app, client, world, captured):
    assert login(client, world.r1).status_code == 302
    header = world.token(world.r1)
    body = pass_body(notify="sms")
    body["visitor"] = {"name": VISITOR, "phone": PHONE, "id_number": ID_NUMBER}
    resp = client.post("/api/v1/passes", json=body, headers=header)
    assert resp.status_code == 201, resp.get_json()
    p = db.session.get(Pass, resp.get_json()["id"])
    assert sms_worker.send_pending() is not None  # the console backend "sends" the invitation
    _, device_header = world.device()
    qr = codes.qr_text(p)
    assert reason(client, device_header, qr=qr) == ("grant", "ok")
    assert reason(client, device_header, qr=qr + "AA") == ("deny", "bad_signature")
    client.post("/api/v1/gate/verify", json={"qr": qr}, headers={"Authorization": "Bearer dev_notarealtoken0123456789"})
    assert login(app.test_client(), world.r2, password="wrong-" + world.PASSWORD).status_code == 401
    logging.getLogger("portal.test").error("failed for %s", PHONE)  # a careless call site is masked too
    text = captured.getvalue()
    assert text, "nothing was logged: the test would prove nothing"
    secrets = [PHONE, PHONE[3:], VISITOR, ID_NUMBER, world.r1.display_name, world.r2.display_name, p.link_token, qr, p.otp_secret]
    secrets += [device_header["Authorization"].split()[1], header["Authorization"].split()[1], world.PASSWORD]
    leaked = [s for s in secrets if s in text]
    assert not leaked, leaked
    for line in text.splitlines():
        entry = json.loads(line)
        assert {"ts", "level", "logger", "msg", "request_id"} <= set(entry)


def test_request_id_is_returned_and_an_incoming_sane_one_is_kept(client):
    given = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21-0001"})
    assert given.headers["X-Request-ID"] == "lb-7f3a9c21-0001"
    for bad in ("short", "x" * 65, "a b c d e f g h", "id\u2028forged"):
        resp = client.get("/healthz", headers={"X-Request-ID": bad})
        assert resp.headers["X-Request-ID"] != bad and len(resp.headers["X-Request-ID"]) == 32
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_log_lines_name_their_request(app, client, captured):
    @app.get("/__log_probe")
    def probe():
        logging.getLogger("portal.probe").warning("probe %s", "here")
        return "ok"

    resp = client.get("/__log_probe", headers={"X-Request-ID": "probe-12345678"})
    assert resp.status_code == 200
    [entry] = [json.loads(line) for line in captured.getvalue().splitlines() if "probe here" in line]
    assert entry["request_id"] == "probe-12345678" and entry["level"] == "WARNING"


def test_text_format_for_development_is_masked_too():
    record = logging.LogRecord("portal.x", logging.INFO, __file__, 1, "sms to %s via /p/%s", (PHONE, "A" * 30), None)
    line = logs.formatter("text").format(record)
    assert PHONE not in line and "A" * 30 not in line and "INFO portal.x sms to +86…" in line
