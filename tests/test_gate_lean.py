"""Device calls take the lean path: no session, CSRF, locale or limiter hooks, and everything a reader relies on kept."""

import pytest
from flask import session

from portal.core import lean
from portal.passes import codes


@pytest.fixture
def probe(app):
    """A factory: probe(lean_path) adds POST /api/v1/probe (raising on ?boom) served on the lean path or the full one."""
    seen = {}

    def add(lean_path):
        def view():
            from flask import request

            if "boom" in request.args:
                raise RuntimeError("probe failed")
            seen["session_null"] = app.session_interface.is_null_session(session)
            return {"ok": True}

        app.add_url_rule("/api/v1/probe", "probe", view, methods=["POST"])
        if lean_path:
            lean.route("POST", "/api/v1/probe")
        return seen

    yield add
    lean.ROUTES.discard(("POST", "/api/v1/probe"))


def test_verify_is_served_on_the_lean_path(app):
    assert ("POST", "/api/v1/gate/verify") in lean.ROUTES


def test_verify_answers_with_request_id_and_json_headers_and_never_a_cookie(login_as, world):
    browser = login_as(world.guard)  # a reader on the guard's PC still sends the guard's session cookie
    _, header = world.device()
    p = world.make_pass(max_entries=None)
    resp = browser.post(
        "/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers=header | {"X-Request-ID": "reader-0001-abcd"}
    )
    assert resp.status_code == 200 and resp.get_json()["decision"] == "grant"
    assert resp.content_type == "application/json" and resp.get_json()["pass_id"] == p.id
    assert resp.headers["X-Request-ID"] == "reader-0001-abcd"
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in resp.headers
    assert browser.get("/desk/").status_code == 200  # the guard's session is untouched


def test_verify_refuses_bad_bodies_and_characters_as_before(client, world):
    _, header = world.device()
    bad_json = client.post("/api/v1/gate/verify", data="{not json", content_type="application/json", headers=header)
    assert bad_json.status_code == 400 and bad_json.get_json()["error"]["code"] == "bad_json"
    assert bad_json.headers["X-Request-ID"]
    nul = client.post("/api/v1/gate/verify", data='{"qr": "\\u0000"}', content_type="application/json", headers=header)
    assert nul.status_code == 400 and nul.get_json()["error"]["code"] == "bad_characters"
    blank = client.post("/api/v1/gate/verify", json={"qr": "x"}, headers={"Authorization": "Bearer "})
    assert blank.status_code == 401


@pytest.mark.parametrize("lean_path", [True, False])
def test_only_the_lean_path_skips_session_and_csrf(app, probe, lean_path):
    seen = probe(lean_path)
    client = app.test_client()
    client.set_cookie("session", "whatever", domain="portal.test")
    resp = client.post("/api/v1/probe", data={"a": "1"})  # a form post without a CSRF token
    if lean_path:
        assert resp.status_code == 200 and seen["session_null"] is True
    else:
        assert resp.status_code == 403 and "session_null" not in seen  # CSRF refused it before the view
    assert resp.headers["X-Request-ID"] and resp.headers["X-Content-Type-Options"] == "nosniff"


def test_lean_path_failure_is_a_json_500_with_the_request_id(app, probe):
    probe(True)
    resp = app.test_client().post("/api/v1/probe?boom=1", json={}, headers={"X-Request-ID": "reader-0002-abcd"})
    assert resp.status_code == 500 and resp.is_json
    assert resp.headers["X-Request-ID"] == "reader-0002-abcd" and resp.headers["Cache-Control"] == "no-store"


@pytest.fixture
def lean_view(app):
    """A factory: lean_view(path, view) serves view at POST path on the lean path for one test."""
    added = []

    def add(path, view):
        app.add_url_rule(path, view.__name__, view, methods=["POST"])
        lean.route("POST", path)
        added.append(("POST", path))
        return app.test_client()

    yield add
    for key in added:
        lean.ROUTES.discard(key)


def test_lean_answer_keeps_the_views_own_header_and_gains_the_others(lean_view):
    def own_cache():
        from flask import request, url_for

        body = {"endpoint": request.endpoint, "url": url_for("own_cache")}  # routing settled without matching
        return body, 200, {"Cache-Control": "max-age=5"}

    resp = lean_view("/api/v1/probe-own", own_cache).post("/api/v1/probe-own", json={})
    assert resp.status_code == 200 and resp.get_json() == {"endpoint": "own_cache", "url": "/api/v1/probe-own"}
    assert resp.headers.get_all("Cache-Control") == ["max-age=5"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'") and resp.headers["X-Request-ID"]
    assert int(resp.headers["Content-Length"]) == len(resp.data)


@pytest.mark.parametrize("kind", ["empty", "redirect", "stream"])
def test_lean_answers_werkzeug_must_rewrite_still_carry_every_header(lean_view, kind):
    from flask import redirect

    def odd():
        if kind == "empty":
            return "", 204
        if kind == "redirect":
            return redirect("/desk/")
        return (b"x" for _ in range(3)), 200, {"Content-Type": "text/plain"}  # no length known beforehand

    resp = lean_view("/api/v1/probe-odd", odd).post("/api/v1/probe-odd", json={})
    status, data = {"empty": (204, b""), "redirect": (302, None), "stream": (200, b"xxx")}[kind]
    assert resp.status_code == status and (data is None or resp.data == data)
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Cache-Control"] == "no-store"
    if kind == "redirect":
        assert resp.headers["Location"].endswith("/desk/")
    if kind == "empty":
        assert "Content-Length" not in resp.headers
