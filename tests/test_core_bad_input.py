"""NUL bytes and lone surrogates answer 400 everywhere (no login needed to try), on SQLite and PostgreSQL;
a blank bearer header is a 401, never a CSRF-free call on the session cookie."""

import pytest
from conftest import each_database
from desk_support import csrf_from, login_page

NUL = "\x00"
LONE = "\ud800"
RAW_LONE = b'{"login": "\\ud800", "password": "x"}'  # a lone surrogate can only arrive as a JSON escape


def _calls(world, manager, device_id):
    """(method, path, kwargs) for a list of endpoints, each with one bad character somewhere."""
    return [
        ("GET", "/api/v1/sites/%00/keys", {}),
        ("GET", "/api/v1/sites/sunny/keys?x=%00", {}),
        ("POST", "/api/v1/auth/token", {"json": {"login": "r1" + NUL, "password": "x"}}),
        ("POST", "/api/v1/auth/token", {"data": RAW_LONE, "content_type": "application/json"}),
        ("POST", "/api/v1/auth/token", {"json": {"login": "r1", "password": "x", "otp": LONE}}),
        ("POST", "/login", {"data": {"username": "r1" + NUL, "password": "x"}}),
        ("GET", "/login?next=%00", {}),
        ("GET", "/p/%00", {}),
        ("GET", "/p/abc%00def/live", {}),
        ("GET", "/api/v1/desk/events?decision=%00", {"headers": manager}),
        ("GET", "/api/v1/desk/walk-ins?status=%00", {"headers": manager}),
        ("POST", f"/api/v1/devices/{device_id}/tokens", {"json": {"name": "reader" + NUL}, "headers": manager}),
        ("POST", f"/api/v1/devices/{device_id}/tokens", {"json": {"name": LONE}, "headers": manager}),
        ("PATCH", f"/api/v1/devices/{device_id}", {"json": {"name": "gate" + NUL}, "headers": manager}),
        ("POST", "/api/v1/devices", {"json": {"name": NUL, "kind": "gate_reader"}, "headers": manager}),
        ("POST", "/api/v1/gate/verify", {"json": {"code": "1" + NUL}, "headers": {"Authorization": "Bearer vpd_" + NUL}}),
        ("POST", "/api/v1/passes", {"json": {"visitor_name": "王" + NUL}, "headers": manager}),
    ]


@each_database
def test_bad_characters_answer_400_on_every_endpoint(app, world):
    device, _ = world.device()
    client = app.test_client()
    manager = world.token(world.manager)
    failures = []
    for method, path, kwargs in _calls(world, manager, device.id):
        resp = client.open(path, method=method, **kwargs)
        code = (resp.get_json().get("error") or {}).get("code") if resp.is_json else None
        if resp.status_code != 400 or (path.startswith("/api/") and code != "bad_characters"):
            failures.append((method, path, resp.status_code, code))
    assert failures == []


def test_paired_surrogates_and_ordinary_text_still_pass(app, world, client):
    resp = client.post(
        "/api/v1/auth/token", data=b'{"login": "\\ud83d\\ude00", "password": "x"}', content_type="application/json"
    )
    assert resp.status_code == 401  # an emoji login is just a wrong login
    assert client.get("/api/v1/sites/sunny/keys").status_code == 200


def test_device_token_names_are_validated_like_every_other_name(app, world, client):
    device, _ = world.device()
    manager = world.token(world.manager)
    for bad in ("\u202eevil", "a\u200bb", "x" * 81):
        resp = client.post(f"/api/v1/devices/{device.id}/tokens", json={"name": bad}, headers=manager)
        assert resp.status_code == 400, bad
    ok = client.post(f"/api/v1/devices/{device.id}/tokens", json={"name": " 南门读头 "}, headers=manager)
    assert ok.status_code == 201 and ok.get_json()["name"] == "南门读头"


@pytest.mark.parametrize("header", ["", " ", "\t", "Bearer", "Bearer ", "bearer    ", "Bearer \t "])
def test_blank_bearer_header_is_401_and_never_rides_the_session_cookie(app, world, client, header):
    login_page(client, world, world.r1)
    p = world.make_pass()
    # Cookie-authenticated, no CSRF token: with a blank bearer header this used to skip CSRF and revoke.
    resp = client.post(f"/api/v1/passes/{p.id}/revoke", json={}, headers={"Authorization": header})
    assert resp.status_code == 401
    assert client.get("/api/v1/passes", headers={"Authorization": header}).status_code == 401
    from portal.extensions import db
    from portal.passes.models import Pass

    db.session.expire_all()
    assert db.session.get(Pass, p.id).revoked_at is None
    # The same cookie with its CSRF token still works, and a proxy's Basic header is not a bearer call.
    assert csrf_from(client, "/passes/") is not None
