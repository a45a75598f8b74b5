"""Logins tell nothing: one answer for any wrong factor, unknown logins throttled like real ones, the lock's own Retry-After."""

import re
from datetime import timedelta

import pytest
from test_passes_access import _login

from portal.accounts.models import User
from portal.core.timeutil import utcnow
from portal.extensions import db


def _token(client, login, password, otp=None):
    body = {"login": login, "password": password} | ({"otp": otp} if otp is not None else {})
    return client.post("/api/v1/auth/token", json=body)


def test_api_gives_one_answer_for_any_wrong_staff_factor(client, world):
    answers = [
        _token(client, "guard1", "not the password"),
        _token(client, "guard1", world.PASSWORD),
        _token(client, "guard1", world.PASSWORD, "000000"),
        _token(client, "nobody", world.PASSWORD, "000000"),
    ]
    assert {(r.status_code, r.get_data(as_text=True)) for r in answers} == {(401, answers[0].get_data(as_text=True))}
    assert answers[0].get_json()["error"]["code"] == "bad_credentials"


def _flash(resp):
    return re.findall(r'class="flash[^"]*"[^>]*>([^<]+)<', resp.get_data(as_text=True))


def test_login_page_gives_one_answer_for_any_wrong_staff_factor(client, world):
    wrong_password = _login(client, "guard1", "not the password", "123456")
    no_code = _login(client, "guard1", world.PASSWORD)
    wrong_code = _login(client, "guard1", world.PASSWORD, "000000")
    assert wrong_password.status_code == no_code.status_code == wrong_code.status_code == 401
    assert _flash(wrong_password) == _flash(no_code) == _flash(wrong_code) != []
    # The code field is always on the page, so a client never needs to be told a code is missing.
    assert 'name="otp"' in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("store", ["memory://", "db://"])
def test_unknown_logins_throttle_like_real_ones(app, client, world, store):
    app.config["RATELIMIT_STORAGE_URI"] = store
    app.extensions.pop("login_unknown_store", None)
    known = [_token(client, "r1", f"bad-{i}-password") for i in range(7)]
    unknown = [_token(client, "nobody-here", f"bad-{i}-password") for i in range(7)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 5 + [429] * 2
    assert [r.get_json() for r in known] == [r.get_json() for r in unknown]
    # The same lock length; the two series run a moment apart, so a value may have crossed a second boundary.
    assert [("Retry-After" in r.headers) for r in known] == [("Retry-After" in r.headers) for r in unknown]
    waits = [
        (int(k.headers["Retry-After"]), int(u.headers["Retry-After"]))
        for k, u in zip(known, unknown, strict=True)
        if "Retry-After" in k.headers
    ]
    assert waits and all(abs(k - u) <= 1 for k, u in waits), waits
    # Letter case and spaces do not give an unknown login a fresh budget, as they do not for a real one.
    assert _token(client, " Nobody-Here ", "x").status_code == 429


def test_retry_after_is_the_lock_remaining(client, world):
    user = db.session.scalar(db.select(User).where(User.login == "r1"))
    user.locked_until = utcnow() + timedelta(seconds=600)
    db.session.commit()
    api = _token(client, "r1", world.PASSWORD)
    assert api.status_code == 429 and 598 <= int(api.headers["Retry-After"]) <= 600
    page = _login(client, "r1", world.PASSWORD)
    assert page.status_code == 429 and 598 <= int(page.headers["Retry-After"]) <= 600
