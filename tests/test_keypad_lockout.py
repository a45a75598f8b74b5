"""Keypad throttling that keeps guessers out without shutting a keypad: garbage, per-pass guesses, the guard's clear."""

import pytest
from conftest import each_database
from gate_support import events, reason, verify
from support import csrf_in

from portal.audit.models import AuditEntry
from portal.desk.models import DeskException
from portal.extensions import db
from portal.gate import throttle
from portal.passes import codes


def _wrong(p, n=1):
    good = codes.keypad_code(p)
    return good[:5] + f"{(int(good[5:]) + n) % 1_000_000:06d}"


@pytest.fixture
def db_throttle(app):
    """The keypad throttle on the shared db:// store (the one several workers count in together)."""
    defaults = throttle.DEFAULTS
    app.extensions["gate_throttle"] = throttle.Throttle(
        "db://", defaults["GATE_CODE_DEVICE_LIMIT"], defaults["GATE_CODE_PASS_LIMIT"], defaults["GATE_CODE_BURST"]
    )


@each_database
def test_garbage_never_locks_out_a_valid_code_and_alerts_the_desk(client, world, db_throttle):
    p = world.make_pass()
    dev, header = world.device("keypad-1")
    live = {p.keypad_no}
    garbage = [f"{n:05d}{n:06d}" for n in range(60) if f"{n:05d}" not in live][:45]
    assert [reason(client, header, code=c) for c in garbage] == [("deny", "unknown")] * 45
    assert reason(client, header, code=codes.keypad_code(p)) == ("grant", "ok")
    bursts = [e for e in events(device_id=dev.id, reason="throttled") if e.details.get("burst")]
    assert len(bursts) == 1 and bursts[0].details["failures"] == 10  # at the 10th failure, not later
    alert = db.session.scalar(db.select(DeskException).where(DeskException.kind == "keypad_burst"))
    assert alert is not None and alert.device_id == dev.id and alert.status == "open"


@each_database
def test_guesses_at_one_pass_throttle_that_pass_only(client, world, db_throttle):
    target, other = world.make_pass(), world.make_pass()
    _, header = world.device("keypad-1")
    _, elsewhere = world.device("keypad-2")
    results = [reason(client, header, code=_wrong(target, n)) for n in range(1, 9)]
    assert results == [("deny", "unknown")] * 5 + [("deny", "throttled")] * 3
    assert reason(client, elsewhere, code=codes.keypad_code(target)) == ("deny", "throttled")
    # The same keypad still opens for every other pass.
    assert reason(client, header, code=codes.keypad_code(other)) == ("grant", "ok")


def test_refused_codes_never_name_their_pass(client, world):
    p = world.make_pass()
    _, header = world.device("keypad-1")
    good = codes.keypad_code(p)
    status, granted = verify(client, header, code=good)
    assert granted["decision"] == "grant" and granted["pass_id"] == p.id
    refused = [verify(client, header, code=c)[1] for c in (good, _wrong(p), _wrong(p, 2), "12345")]
    assert [r["reason"] for r in refused] == ["replayed", "unknown", "unknown", "unknown"]
    assert not any("pass_id" in r for r in refused)
    world.app.extensions["gate_throttle"].__init__("memory://", "100/minute", "1/minute")
    assert reason(client, header, code=_wrong(p, 3)) == ("deny", "unknown")
    throttled = verify(client, header, code=_wrong(p, 4))[1]
    assert throttled["reason"] == "throttled" and "pass_id" not in throttled


def _blocked_keypad(world):
    world.app.extensions["gate_throttle"].__init__("db://", "3/minute", "100/minute", "3/minute")
    client = world.app.test_client()
    p = world.make_pass()
    dev, header = world.device("keypad-1")
    for n in range(1, 4):
        assert reason(client, header, code=_wrong(p, n)) == ("deny", "unknown")
    assert reason(client, header, code=codes.keypad_code(p)) == ("deny", "throttled")
    return client, p, dev, header


def test_guard_clears_a_keypad_through_the_api(world):
    client, p, dev, header = _blocked_keypad(world)
    path = f"/api/v1/desk/keypads/{dev.id}/clear"
    assert client.post(path, headers=world.token(world.r1)).status_code == 403
    assert client.post(path).status_code in (401, 403)
    other_dev, _ = world.device("far-keypad", site=world.other_site)
    assert client.post(f"/api/v1/desk/keypads/{other_dev.id}/clear", headers=world.token(world.guard)).status_code == 404
    assert reason(client, header, code=codes.keypad_code(p)) == ("deny", "throttled")  # refusals cleared nothing
    resp = client.post(path, headers=world.token(world.guard))
    assert resp.status_code == 200 and resp.get_json() == {"ok": True, "device_id": dev.id}
    assert reason(client, header, code=codes.keypad_code(p)) == ("grant", "ok")
    audit = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "gate.keypad_cleared"))
    assert audit is not None and str(audit.object_id) == str(dev.id) and audit.actor_id == world.guard.id


def test_guard_clears_a_keypad_from_the_exceptions_page(world):
    from test_passes_access import _login

    client, p, dev, header = _blocked_keypad(world)
    events()  # the burst alert reaches the desk
    assert _login(client, "guard1", world.PASSWORD, world.otp(world.guard)).status_code == 302
    page = client.get("/desk/exceptions").get_data(as_text=True)
    action = f"/desk/keypads/{dev.id}/clear"
    assert f'action="{action}"' in page
    token = csrf_in(page)
    assert client.post(action).status_code == 403  # no CSRF token
    resp = client.post(action, data={"csrf_token": token})
    assert resp.status_code == 302
    assert reason(client, header, code=codes.keypad_code(p)) == ("grant", "ok")
