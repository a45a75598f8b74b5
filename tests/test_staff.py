"""Staff: managers add guards and managers, who enrol by a one-time link; disable, enable, reset; by role."""

import re
import time

import pyotp
import pytest
from conftest import each_database

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.notify.models import Message
from portal.staff.models import EnrolLink
from tests.support import csrf, csrf_in, login


def _add(client, headers=None, **body):
    data = {"login": "newguard", "name": "新保安", "role": "guard"} | body
    return client.post("/api/v1/staff", json=data, headers=headers or {})


def _next_code(secret):
    """A code of the next time step: the confirming code's own step is spent."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def _enrol(client, url, password="a new long passphrase", code=None):  # noqa: S107
    path = url.split("portal.test", 1)[-1]
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    html = page.get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7]{16,})</code>", html).group(1)
    resp = client.post(
        path,
        data={
            "csrf_token": csrf_in(html),
            "password": password,
            "confirm": password,
            "otp": code or pyotp.TOTP(secret).now(),
        },
    )
    return resp, secret


def _audits(action):
    return db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action)).all()


def test_create_enrol_and_log_in(world, manager_client, app):
    resp = _add(manager_client, world.token(world.manager), phone="13812345678")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["role"] == "guard" and body["has_totp"] is False and body["has_password"] is False
    assert body["enrol_url"].startswith("http") and "/enrol/vpe_" in body["enrol_url"]
    user = db.session.get(User, body["id"])
    assert user.site_id == world.site.id
    # The link is stored hashed only, and goes out by SMS through the outbox.
    plain = body["enrol_url"].rsplit("/", 1)[1]
    assert not db.session.scalar(db.select(EnrolLink).where(EnrolLink.token_hash == plain))
    sms = db.session.scalars(db.select(Message).where(Message.purpose == "staff.enrol")).all()
    assert len(sms) == 1 and plain in sms[0].body
    # No password yet: nobody can log in.
    assert login(app.test_client(), "newguard", "a new long passphrase", otp="000000").status_code == 401

    anon = app.test_client()
    resp, secret = _enrol(anon, body["enrol_url"], code="123456")
    assert resp.status_code == 400  # a wrong code
    resp, secret = _enrol(anon, body["enrol_url"])
    assert resp.status_code == 200
    codes = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>", resp.get_data(as_text=True))
    assert len(set(codes)) == 10
    db.session.expire_all()
    assert user.totp_secret == secret
    # Single use.
    assert anon.get(body["enrol_url"].split("portal.test", 1)[-1]).status_code == 404
    # Login works with the password and a fresh code; also through the API.
    client = app.test_client()
    assert login(client, "newguard", "a new long passphrase", otp=_next_code(secret)).status_code == 302
    assert client.get("/desk/").status_code == 200
    listed = manager_client.get("/api/v1/staff", headers=world.token(world.manager)).get_json()["items"]
    row = next(r for r in listed if r["login"] == "newguard")
    assert row["has_totp"] and row["active"] and row["last_login_at"] and row["recovery_codes_left"] == 10
    # A recovery code stands in for the authenticator once; stored hashed.
    from portal.accounts.models import RecoveryCode

    assert not db.session.scalar(db.select(RecoveryCode).where(RecoveryCode.code_hash.contains(codes[0].replace("-", ""))))
    assert login(app.test_client(), "newguard", "a new long passphrase", otp=codes[0]).status_code == 302
    assert login(app.test_client(), "newguard", "a new long passphrase", otp=codes[0]).status_code == 401
    assert login(app.test_client(), "newguard", "a new long passphrase", otp=codes[1].upper()).status_code == 302
    assert _audits("staff.create") and _audits("staff.enrol")
    # A reset forgets the recovery codes with the authenticator.
    assert manager_client.post(f"/api/v1/staff/{user.id}/reset-totp", headers=world.token(world.manager)).status_code == 200
    assert login(app.test_client(), "newguard", "a new long passphrase", otp=codes[2]).status_code == 401


def test_weak_password_and_bad_input(world, manager_client, app):
    url = _add(manager_client, world.token(world.manager)).get_json()["enrol_url"]
    resp, _ = _enrol(app.test_client(), url, password="password")
    assert resp.status_code == 400
    assert _add(manager_client, world.token(world.manager)).status_code == 409  # login taken
    assert _add(manager_client, world.token(world.manager), login="x y", role="admin", name="").status_code == 400
    assert _add(manager_client, world.token(world.manager), login="g2", phone="123").status_code == 400
    assert _add(manager_client, world.token(world.manager), login="guard1").status_code == 409


def test_enrolment_with_oathtool(world, manager_client, app):
    import shutil
    import subprocess

    if not shutil.which("oathtool"):
        pytest.skip("oathtool not installed")
    url = _add(manager_client, world.token(world.manager), login="mgr2", role="manager").get_json()["enrol_url"]
    client = app.test_client()
    path = url.split("portal.test", 1)[-1]
    html = client.get(path).get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7]{16,})</code>", html).group(1)
    code = subprocess.run(["oathtool", "--totp", "-b", secret], capture_output=True, text=True, check=True).stdout.strip()
    data = {"csrf_token": csrf_in(html), "password": "another long passphrase", "confirm": "another long passphrase", "otp": code}
    assert client.post(path, data=data).status_code == 200


@each_database
def test_disable_ends_tokens_and_sessions_at_once(world, manager_client, guard_client):
    headers = world.token(world.guard)
    assert guard_client.get("/desk/").status_code == 200
    assert manager_client.get("/api/v1/me", headers=headers).status_code == 200
    resp = manager_client.post(f"/api/v1/staff/{world.guard.id}/disable", headers=world.token(world.manager))
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    assert manager_client.get("/api/v1/me", headers=headers).status_code == 401
    assert guard_client.get("/desk/").status_code == 302  # logged out
    assert guard_client.get("/api/v1/me").status_code == 401
    # Cannot log in while disabled; enabling lets them back.
    db.session.expire_all()
    assert login(manager_client.application.test_client(), world.guard).status_code == 401
    resp = manager_client.post(f"/api/v1/staff/{world.guard.id}/enable", headers=world.token(world.manager))
    assert resp.status_code == 200 and resp.get_json()["active"] is True
    db.session.expire_all()
    assert (
        login(manager_client.application.test_client(), world.guard, otp=_next_code(world.guard.totp_secret)).status_code == 302
    )
    assert _audits("user.disable") and _audits("user.enable")


@each_database
def test_last_manager_cannot_be_disabled(world, manager_client):
    resp = manager_client.post(f"/api/v1/staff/{world.manager.id}/disable", headers=world.token(world.manager))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "last_manager"
    mh = world.token(world.manager)
    body = _add(manager_client, mh, login="mgr2", role="manager").get_json()
    assert manager_client.post(f"/api/v1/staff/{body['id']}/disable", headers=mh).status_code == 200
    assert manager_client.post(f"/api/v1/staff/{world.manager.id}/disable", headers=mh).status_code == 409
    assert manager_client.post(f"/api/v1/staff/{body['id']}/enable", headers=mh).status_code == 200
    assert manager_client.post(f"/api/v1/staff/{world.manager.id}/disable", headers=mh).status_code == 200


def test_reset_second_factor(world, manager_client, guard_client, app):
    headers = world.token(world.guard)
    resp = manager_client.post(f"/api/v1/staff/{world.guard.id}/reset-totp", headers=world.token(world.manager))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["has_totp"] is False and body["has_password"] is True and body["enrol_url"]
    assert manager_client.get("/api/v1/me", headers=headers).status_code == 401
    assert guard_client.get("/desk/").status_code == 302
    assert db.session.get(User, world.guard.id).totp_secret is None
    assert body["recovery_codes_left"] == 0
    client = app.test_client()
    path = body["enrol_url"].split("portal.test", 1)[-1]
    html = client.get(path).get_data(as_text=True)
    assert 'name="password"' not in html  # the password stays
    secret = re.search(r"<code>([A-Z2-7]{16,})</code>", html).group(1)
    assert client.post(path, data={"csrf_token": csrf_in(html), "otp": pyotp.TOTP(secret).now()}).status_code == 200
    assert login(app.test_client(), "guard1", otp=_next_code(secret)).status_code == 302
    assert _audits("staff.reset_totp")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/staff"),
        ("POST", "/api/v1/staff"),
        ("POST", "/api/v1/staff/{id}/disable"),
        ("POST", "/api/v1/staff/{id}/enable"),
        ("POST", "/api/v1/staff/{id}/reset-totp"),
    ],
)
def test_roles(world, resident_client, guard_client, login_as, method, path):
    from portal.accounts.operations import create_user

    url = path.format(id=world.guard.id)
    for user in (world.r1, world.guard):
        assert resident_client.open(url, method=method, json={}, headers=world.token(user)).status_code == 403
    other = create_user("othermgr", world.PASSWORD, "manager", "别的经理", site=world.other_site)
    db.session.commit()
    other_client = login_as(other)
    if "{id}" in path:
        assert other_client.open(url, method=method, json={}, headers=world.token(other)).status_code == 404
    else:
        resp = other_client.get("/api/v1/staff", headers=world.token(other))
        assert resp.status_code == 200 and [r["login"] for r in resp.get_json()["items"]] == ["othermgr"]
        assert all(r["site_id"] == world.other_site.id for r in resp.get_json()["items"])
    # Without a login: 401 (a cookie POST without a session stops at CSRF first).
    assert world.app.test_client().open(url, method=method, json={}).status_code == (401 if method == "GET" else 403)


def test_pages_for_residents_guards_and_other_sites(world, resident_client, guard_client, login_as):
    from portal.accounts.operations import create_user

    assert resident_client.get("/staff/").status_code == 403
    assert guard_client.get("/staff/").status_code == 403
    other = create_user("othermgr", world.PASSWORD, "manager", "别的经理", site=world.other_site)
    db.session.commit()
    other_client = login_as(other)
    page = other_client.get("/staff/").get_data(as_text=True)
    assert "guard1" not in page
    token = csrf(other_client, "/staff/")
    assert other_client.post(f"/staff/{world.guard.id}/disable", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_staff_page_add_disable_reset(world, manager_client, app, lang):
    page = manager_client.get(f"/staff/?lang={lang}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "guard1" in html
    assert ("员工" if lang == "zh" else "Staff") in html
    token = csrf_in(html)
    resp = manager_client.post("/staff/", data={"csrf_token": token, "login": "pageguard", "name": "页面保安", "role": "guard"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "/enrol/vpe_" in html
    url = re.search(r'(http://portal\.test/enrol/vpe_[^<"]+)', html).group(1)
    assert manager_client.get("/staff/").get_data(as_text=True).count("/enrol/vpe_") == 0  # shown once
    enrol_page = app.test_client().get(url.split("portal.test", 1)[-1] + f"?lang={lang}").get_data(as_text=True)
    assert ("设置" if lang == "zh" else "Set up your account") in enrol_page
    member = db.session.scalar(db.select(User).where(User.login == "pageguard"))
    resp = manager_client.post(f"/staff/{member.id}/reset", data={"csrf_token": token})
    assert resp.status_code == 200 and "/enrol/vpe_" in resp.get_data(as_text=True)
    assert manager_client.get(url.split("portal.test", 1)[-1]).status_code == 404  # the earlier link is replaced
    resp = manager_client.post(f"/staff/{member.id}/disable", data={"csrf_token": token})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, member.id).active is False
    resp = manager_client.post(f"/staff/{world.manager.id}/disable", data={"csrf_token": token})
    assert resp.status_code in (302, 303)  # refused: flashed and sent back
    db.session.expire_all()
    assert db.session.get(User, world.manager.id).active is True
    assert manager_client.post(f"/staff/{member.id}/enable", data={"csrf_token": token}).status_code == 302


def test_a_refused_add_on_the_page_lists_and_keeps_nothing_it_wrote(world, manager_client, monkeypatch):
    """A refusal after the member row was flushed: the form comes back with a 400 and no page lists the half-added member."""
    from portal.core.errors import Refused
    from portal.staff import operations

    def taken(actor, user, purpose):  # a refusal that comes after the row and its audit entry were flushed
        raise Refused("login_taken", "This login is taken.", fields={"login": ("login_taken", "This login is taken.")})

    monkeypatch.setattr(operations, "issue_link", taken)
    html = manager_client.get("/staff/?lang=en").get_data(as_text=True)
    data = {"csrf_token": csrf_in(html), "login": "halfguard", "name": "半保安", "role": "guard", "phone": "13812345678"}
    resp = manager_client.post("/staff/?lang=en", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "This login is taken." in html
    assert 'value="halfguard"' in html  # the form keeps what was typed
    assert "<td>halfguard</td>" not in html  # the list it shows read nothing the refused add wrote
    assert "<td>guard1</td>" in html
    assert "<td>halfguard</td>" not in manager_client.get("/staff/").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(db.select(User).where(User.login == "halfguard")) is None
    assert _audits("staff.create") == []
