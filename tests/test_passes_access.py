"""A resident reaches only their own units' passes, over every route; CSRF and escaping hold."""

import pytest
import support

from portal.extensions import db
from portal.passes.models import Pass


def _login(client, login, password, otp=None):
    return support.login(client, login, password, otp or None)


_csrf = support.csrf


API_ROUTES = [
    ("GET", "/api/v1/passes/{id}", None),
    ("POST", "/api/v1/passes/{id}/revoke", {}),
    ("POST", "/api/v1/passes/{id}/extend", {"valid_until": "2099-01-01T00:00:00+08:00"}),
    ("POST", "/api/v1/passes/{id}/resend", None),
]
PAGE_ROUTES = [
    ("GET", "/my/passes/{id}"),
    ("POST", "/my/passes/{id}/revoke"),
    ("POST", "/my/passes/{id}/extend"),
    ("POST", "/my/passes/{id}/resend"),
]


@pytest.mark.parametrize("method,path,body", API_ROUTES)
def test_other_units_pass_is_404_over_api(client, world, method, path, body):
    p = world.make_pass(host=world.r1, visitor_phone="+8613812345678")
    resp = client.open(path.format(id=p.id), method=method, json=body, headers=world.token(world.r2))
    assert resp.status_code in (403, 404)
    fresh = db.session.get(Pass, p.id)
    assert fresh.status == "active" and fresh.valid_until == p.valid_until


def test_other_units_pass_absent_from_list(client, world):
    p = world.make_pass(host=world.r1)
    items = client.get("/api/v1/passes", headers=world.token(world.r2)).get_json()["items"]
    assert p.id not in [i["id"] for i in items]


@pytest.mark.parametrize("method,path", PAGE_ROUTES)
def test_other_units_pass_is_404_over_pages(client, world, method, path):
    p = world.make_pass(host=world.r1, visitor_phone="+8613812345678")
    assert _login(client, "r2", world.PASSWORD).status_code == 302
    data = {"csrf_token": _csrf(client, "/my/passes/new"), "valid_until": "2099-01-01T00:00", "reason": "x"}
    resp = client.open(path.format(id=p.id), method=method, data=data if method == "POST" else None)
    assert resp.status_code in (403, 404)
    assert db.session.get(Pass, p.id).status == "active"


def test_staff_of_other_site_cannot_see_pass(client, world):
    from portal.accounts.operations import create_user
    from portal.extensions import db

    p = world.make_pass()
    outsider = create_user("guard-x", world.PASSWORD, "guard", "x", site=world.other_site)
    db.session.commit()
    assert client.get(f"/api/v1/passes/{p.id}", headers=world.token(outsider)).status_code == 404


def test_form_post_without_csrf_token_is_403(client, world):
    p = world.make_pass(host=world.r1)
    assert _login(client, "r1", world.PASSWORD).status_code == 302
    resp = client.post(f"/my/passes/{p.id}/revoke", data={"reason": "no token"})
    assert resp.status_code == 403
    assert db.session.get(Pass, p.id).status == "active"
    # and with the token it works
    resp = client.post(f"/my/passes/{p.id}/revoke", data={"csrf_token": _csrf(client, f"/my/passes/{p.id}")})
    assert resp.status_code == 302 and db.session.get(Pass, p.id).status == "revoked"


def test_cookie_authenticated_api_post_needs_csrf(client, world):
    assert _login(client, "r1", world.PASSWORD).status_code == 302
    from conftest import pass_body

    assert client.post("/api/v1/passes", json=pass_body(notify="none")).status_code == 403
    token = _csrf(client, "/my/passes/new")
    assert client.post("/api/v1/passes", json=pass_body(notify="none"), headers={"X-CSRFToken": token}).status_code == 201


def test_login_page_without_csrf_is_403(client, world):
    assert client.post("/login", data={"login": "r1", "password": world.PASSWORD}).status_code == 403


def test_visitor_name_script_is_escaped_on_pass_page(client, world):
    p = world.make_pass(visitor_name="<script>alert(1)</script>")
    html = client.get(f"/p/{p.link_token}").data.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "script-src 'self'" in client.get(f"/p/{p.link_token}").headers["Content-Security-Policy"]


def test_resident_form_creates_pass_and_reports_errors_in_language(client, world):
    assert _login(client, "r1", world.PASSWORD).status_code == 302
    token = _csrf(client, "/my/passes/new")
    bad = client.post(
        "/my/passes/new?lang=en",
        data={
            "csrf_token": token,
            "unit_id": world.unit_a.id,
            "visitor_name": "A",
            "visitor_phone": "123",
            "kind": "guest",
            "valid_from": "2030-01-01T10:00",
            "valid_until": "2030-01-01T12:00",
        },
    )
    assert bad.status_code == 400 and b"Not a valid phone number" in bad.data
    bad_zh = client.post(
        "/my/passes/new?lang=zh",
        data={
            "csrf_token": token,
            "unit_id": world.unit_a.id,
            "visitor_name": "A",
            "visitor_phone": "123",
            "kind": "guest",
            "valid_from": "2030-01-01T10:00",
            "valid_until": "2030-01-01T12:00",
        },
    )
    assert "手机号" in bad_zh.data.decode()
    ok = client.post(
        "/my/passes/new",
        data={
            "csrf_token": token,
            "unit_id": world.unit_a.id,
            "visitor_name": "王小明",
            "visitor_phone": "13812345678",
            "kind": "guest",
            "valid_from": "2030-01-01T10:00",
            "valid_until": "2030-01-01T12:00",
        },
    )
    assert ok.status_code == 302
    p = Pass.query.filter_by(visitor_name="王小明").one()
    assert p.valid_from.isoformat() == "2030-01-01T02:00:00+00:00"  # 10:00 in Shanghai


def test_resident_form_says_what_is_missing_and_where(client, world):
    """An emptied date picker is "choose a date", not an API format lesson; a bad daily time is flagged on the group."""
    import re

    assert _login(client, "r1", world.PASSWORD).status_code == 302
    token = _csrf(client, "/my/passes/new")
    base = {"csrf_token": token, "unit_id": world.unit_a.id, "visitor_name": "王小明", "kind": "guest"}
    empty = client.post("/my/passes/new?lang=zh", data=base | {"valid_from": "", "valid_until": "2030-01-01T12:00"})
    html = empty.get_data(as_text=True)
    assert empty.status_code == 400 and "请选择日期和时间。" in html and "时区" not in html
    bad_time = client.post(
        "/my/passes/new?lang=en",
        data=base
        | {
            "valid_from": "2030-01-01T10:00",
            "valid_until": "2030-01-02T12:00",
            "days": "1",
            "daily_start": "25:99",
            "daily_end": "18:00",
        },
    )
    html = bad_time.get_data(as_text=True)
    group = re.search(r'<fieldset class="has-error">.*?</fieldset>', html, re.S)
    assert bad_time.status_code == 400 and group and "HH:MM" in group.group(0)


def test_expired_and_revoked_pages_say_so_in_words(client, world):
    from datetime import timedelta

    from portal.core.timeutil import utcnow

    gone = world.make_pass(valid_from=utcnow() - timedelta(days=2), valid_until=utcnow() - timedelta(days=1))
    html = client.get(f"/p/{gone.link_token}?lang=en").data.decode()
    assert "This pass has expired" in html and 'id="qr"' not in html
    assert client.get(f"/p/{gone.link_token}/qr.png").status_code == 410
    p = world.make_pass()
    client.post(f"/api/v1/passes/{p.id}/revoke", headers=world.token(world.r1))
    html = client.get(f"/p/{p.link_token}?lang=en").data.decode()
    assert "cancelled by your host" in html
    assert client.get(f"/p/{p.link_token}/live").get_json()["qr"] is None


def test_unknown_link_is_404(client, world):
    assert client.get("/p/not-a-real-token").status_code == 404
    assert client.get("/p/" + "x" * 500 + "/live").status_code == 404
