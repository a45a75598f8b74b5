"""Login, second factor, throttling, sessions, move-out and the audit trail."""

from datetime import timedelta

import pyotp
from support import csrf
from test_passes_access import _login

from portal.accounts.models import User, UserSession
from portal.audit.models import AuditEntry
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.passes.models import Pass


def _token(client, login, password, otp=None):
    body = {"login": login, "password": password}
    if otp:
        body["otp"] = otp
    return client.post("/api/v1/auth/token", json=body)


def test_token_login_and_me(client, world):
    resp = _token(client, "r1", world.PASSWORD)
    assert resp.status_code == 200
    token = resp.get_json()["token"]
    assert token.startswith("vpu_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["login"] == "r1" and me["units"][0]["label"] == "A栋 1201"


def test_wrong_password_and_unknown_login_look_the_same(client, world):
    a = _token(client, "r1", "wrong password!")
    b = _token(client, "nobody", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert a.get_json()["error"]["code"] == b.get_json()["error"]["code"] == "bad_credentials"


def test_per_account_throttle_with_retry_after_and_no_long_lockout(client, world):
    codes = [_token(client, "r1", f"bad-{i}-password").status_code for i in range(8)]
    assert codes[:5] == [401] * 5
    resp = _token(client, "r1", world.PASSWORD)  # right password, but the account is cooling down
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) <= 15 * 60
    user = db.session.scalar(db.select(User).where(User.login == "r1"))
    user.locked_until = utcnow() - timedelta(seconds=1)  # the cool-down has passed
    db.session.commit()
    assert _token(client, "r1", world.PASSWORD).status_code == 200


def test_staff_need_totp_and_each_code_works_once(client, world):
    # Without the code a right password gets the wrong-credentials answer (no "code needed" hint).
    assert _token(client, "guard1", world.PASSWORD).get_json()["error"]["code"] == "bad_credentials"
    code = pyotp.TOTP(world.guard.totp_secret).now()
    assert _token(client, "guard1", world.PASSWORD, code).status_code == 200
    replay = _token(client, "guard1", world.PASSWORD, code)
    assert replay.status_code == 401


def test_common_and_short_passwords_refused(world):
    import pytest

    from portal.accounts.operations import create_user
    from portal.core.validators import FieldError

    for bad in ("password", "12345678", "short"):
        with pytest.raises(FieldError):
            create_user("newbie", bad, "resident", "x")
    long_ok = "a quite long pass phrase " * 4  # 100 chars, no truncation
    user = create_user("newbie", long_ok, "resident", "x")
    from portal.accounts.passwords import verify_password

    assert verify_password(user.password_hash, long_ok)
    assert not verify_password(user.password_hash, long_ok[:72])


def test_logout_kills_server_side_session(client, world):
    assert _login(client, "r1", world.PASSWORD).status_code == 302
    assert client.get("/my/").status_code == 200
    with client.session_transaction() as sess:
        stolen = dict(sess)
    token = csrf(client, "/my/")
    client.post("/logout", data={"csrf_token": token})
    assert db.session.scalar(db.select(UserSession)).revoked_at is not None
    with client.session_transaction() as sess:  # replay the old cookie
        sess.update(stolen)
    assert client.get("/my/").status_code == 302


def test_staff_idle_timeout(client, world):
    otp = pyotp.TOTP(world.guard.totp_secret).now()
    assert _login(client, "guard1", world.PASSWORD, otp).status_code == 302
    row = db.session.scalar(db.select(UserSession))
    row.last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.commit()
    assert client.get("/my/").status_code == 302  # back to login


def test_open_redirect_refused(client, world):
    token = csrf(client, "/login")
    resp = client.post("/login?next=//evil.example/x", data={"csrf_token": token, "login": "r1", "password": world.PASSWORD})
    assert resp.status_code == 302 and "evil.example" not in resp.headers["Location"]


def test_move_out_revokes_everything_issued_at_once(client, world):
    from portal.sites.operations import move_out

    a = world.make_pass(host=world.r1)
    b = world.make_pass(host=world.r1)
    other = world.make_pass(host=world.r2)
    with world.app.test_request_context():
        move_out(world.r1.residencies[0])
        db.session.commit()
    assert {db.session.get(Pass, p.id).status for p in (a, b)} == {"revoked"}
    assert db.session.get(Pass, other.id).status == "active"
    # and the former resident no longer reaches the unit's passes
    assert client.get(f"/api/v1/passes/{a.id}", headers=world.token(world.r1)).status_code == 404


def test_audit_records_who_what_when_where(client, world):
    from conftest import pass_body

    resp = client.post(
        "/api/v1/passes", json=pass_body(), headers=world.token(world.r1), environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    pid = resp.get_json()["id"]
    client.post(f"/api/v1/passes/{pid}/revoke", headers=world.token(world.r1))
    client.get(f"/api/v1/passes/{pid}", headers=world.token(world.manager))
    rows = db.session.scalars(db.select(AuditEntry).where(AuditEntry.object_id == str(pid))).all()
    actions = {r.action: r for r in rows}
    assert {"pass.create", "pass.revoke", "pii.view"} <= set(actions)
    assert actions["pass.create"].actor_id == world.r1.id and actions["pass.create"].ip == "10.1.2.3"
    assert actions["pii.view"].actor_id == world.manager.id
    assert actions["pass.create"].at is not None


def test_security_headers_on_errors_too(client, world):
    for path in ("/api/v1/passes/999", "/nope", "/login"):
        h = client.get(path).headers
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"
        assert h["Cache-Control"] == "no-store"


def test_server_database_without_keys_refuses_to_start():
    import pytest

    from portal.app import create_app
    from portal.config import Config

    with pytest.raises(RuntimeError, match="DATA_KEY"):
        create_app(
            Config, SECRET_KEY="x" * 32, DATA_KEY=None, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none"
        )


def test_language_picked_on_the_login_page_survives_logging_in(client, world):
    """A Chinese browser that switched the login page to English stays in English after login."""
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    client.get("/login?lang=en", headers=zh)
    assert _login(client, world.r1.login, world.PASSWORD).status_code == 302
    home = client.get("/my/", headers=zh).get_data(as_text=True)
    assert "My passes" in home and "我的通行证" not in home


def test_login_prompt_is_in_the_page_language(client, world):
    """Opening a staff page logged out asks to log in in Chinese on a Chinese browser."""
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    resp = client.get("/desk/remote", headers=zh)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    page = client.get(resp.headers["Location"], headers=zh).get_data(as_text=True)
    assert "请先登录后再查看此页面。" in page and "Please log in" not in page
