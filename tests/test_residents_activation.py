"""Residents' activation: an SMS link per new resident, single use, 72 hours, stored hashed; resend kills the old one."""

from datetime import timedelta

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.residents.models import ActivationLink
from tests.residents_support import activation_sms, link_path, post_roll
from tests.support import csrf_in

ROLL = "building,unit,name,phone,relation,move_in\nA,1201,陈静,13912340001,owner,2026-01-02\nB,0502,Li Na,13912340003,tenant,2026-03-01\n"
PASSWORD = "a long new passphrase"


def _activate(client, path, password=PASSWORD, confirm=None):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return client.post(
        path, data={"csrf_token": csrf_in(page.get_data(as_text=True)), "password": password, "confirm": confirm or password}
    )


def test_import_sends_one_sms_per_new_resident_and_the_link_works_once(client, app, world):
    assert post_roll(client, world, ROLL).get_json()["created"] == 2
    sms = activation_sms()
    assert sorted(m.to for m in sms) == ["+8613912340001", "+8613912340003"]
    chen = activation_sms("+8613912340001")[0]
    # In Chinese by default, with no name, unit or phone in it; the link is stored hashed only.
    assert "72" in chen.body and "陈静" not in chen.body and "1201" not in chen.body and "13912340001" not in chen.body
    assert "设置" in chen.body and chen.status == "queued"
    path = link_path(chen)
    plain = path.split("/")[2].split("?")[0]
    assert db.session.scalar(db.select(ActivationLink).where(ActivationLink.token_hash == plain)) is None
    # A second import creates nobody and sends nothing.
    post_roll(client, world, ROLL)
    assert len(activation_sms()) == 2

    browser = app.test_client()
    resp = _activate(browser, path)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/my/")
    assert browser.get("/my/").status_code == 200  # logged in
    user = db.session.scalar(db.select(User).where(User.display_name == "陈静"))
    assert not user.password_hash.startswith("!")
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "resident.activate")).actor_id == user.id
    # Used: a clear page, in the link's language, never a 500; the password can log in.
    again = app.test_client().get(path)
    assert again.status_code == 410 and "链接无效" in again.get_data(as_text=True)
    login = app.test_client().post("/api/v1/auth/token", json={"login": user.login, "password": PASSWORD})
    assert login.status_code == 200


def test_password_rules_and_mismatch(client, app, world):
    post_roll(client, world, ROLL)
    path = link_path(activation_sms("+8613912340001")[0])
    browser = app.test_client()
    for password, confirm, words in (
        ("short", "short", "8"),
        ("password1", "password1", "常见"),
        (PASSWORD, PASSWORD + "x", "不一致"),
    ):
        resp = _activate(browser, path, password, confirm)
        assert resp.status_code == 400 and words in resp.get_data(as_text=True), password
    # Nothing spent: the link still works.
    assert _activate(browser, path).status_code == 302


def test_expired_and_wrong_links_are_clear_pages_in_both_languages(client, app, world):
    post_roll(client, world, ROLL)
    path = link_path(activation_sms("+8613912340003")[0])
    link = db.session.scalars(db.select(ActivationLink)).first()
    for row in db.session.scalars(db.select(ActivationLink)):
        row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    browser = app.test_client()
    assert browser.get(path).status_code == 410
    en = browser.get(path.replace("lang=zh", "lang=en"))
    assert en.status_code == 410 and "Link not valid" in en.get_data(as_text=True)
    post = browser.post(path, data={"password": PASSWORD, "confirm": PASSWORD})
    assert post.status_code in (400, 403, 410)
    assert db.session.get(User, link.user_id).password_hash.startswith("!")
    for bad in ("/activate/vpa_nope", "/activate/" + "x" * 500, "/activate/vpe_abc"):
        resp = browser.get(bad + "?lang=en")
        assert resp.status_code == 404 and "Link not valid" in resp.get_data(as_text=True)


def test_english_resident_gets_english_sms(client, app, world):
    post_roll(client, world, ROLL)
    li = db.session.scalar(db.select(User).where(User.display_name == "Li Na"))
    li.locale = "en"
    db.session.commit()
    db.session.execute(db.update(ActivationLink).values(created_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    resp = client.post(f"/api/v1/residents/{li.id}/activation", headers=world.token(world.manager))
    assert resp.status_code == 200, resp.get_json()
    sms = activation_sms("+8613912340003")[-1]
    assert "Set your password" in sms.body and "lang=en" in sms.body


def test_resend_kills_the_old_link_is_rate_limited_and_audited(client, app, world):
    post_roll(client, world, ROLL)
    chen = db.session.scalar(db.select(User).where(User.display_name == "陈静"))
    old = link_path(activation_sms("+8613912340001")[0])
    headers = world.token(world.manager)
    too_soon = client.post(f"/api/v1/residents/{chen.id}/activation", headers=headers)
    assert too_soon.status_code == 429 and too_soon.get_json()["error"]["code"] == "too_soon"
    db.session.execute(db.update(ActivationLink).values(created_at=utcnow() - timedelta(minutes=2)))
    db.session.commit()
    resp = client.post(f"/api/v1/residents/{chen.id}/activation", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["link"] == "open"
    new = link_path(activation_sms("+8613912340001")[-1])
    assert new != old
    assert app.test_client().get(old).status_code == 410  # the old one died at once
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "resident.activation_resend")).object_id == str(
        chen.id
    )
    # Five a day at most.
    for _ in range(3):
        db.session.execute(db.update(ActivationLink).values(created_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
        assert client.post(f"/api/v1/residents/{chen.id}/activation", headers=headers).status_code == 200
    db.session.execute(db.update(ActivationLink).values(created_at=utcnow() - timedelta(minutes=2)))
    db.session.commit()
    capped = client.post(f"/api/v1/residents/{chen.id}/activation", headers=headers)
    assert capped.status_code == 429 and capped.get_json()["error"]["code"] == "too_many"
    assert _activate(app.test_client(), link_path(activation_sms("+8613912340001")[-1])).status_code == 302
    done = client.post(f"/api/v1/residents/{chen.id}/activation", headers=headers)
    assert done.status_code == 409


def test_not_activated_list_and_filter(client, world):
    post_roll(client, world, ROLL)
    headers = world.token(world.manager)
    waiting = client.get(f"/api/v1/sites/{world.site.slug}/residents?activated=0", headers=headers).get_json()["items"]
    assert sorted(p["name"] for p in waiting) == ["Li Na", "陈静"]
    one = waiting[0]
    assert one["activated"] is False and one["link"] == "open" and one["sent_at"] and one["expires_at"] > one["sent_at"]
    assert "****" in one["phone"] and one["units"][0]["move_in"]
    done = client.get(f"/api/v1/sites/{world.site.slug}/residents?activated=1", headers=headers).get_json()["items"]
    assert {p["login"] for p in done} == {"r1", "r2"}
    everyone = client.get(f"/api/v1/sites/{world.site.slug}/residents", headers=headers).get_json()["items"]
    assert len(everyone) == 4
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "pii.view", AuditEntry.object_type == "site"))


def test_residencies_api_without_password_sends_activation(client, world):
    resp = client.post(
        "/api/v1/residencies",
        headers=world.token(world.manager),
        json={"unit_id": world.unit_a.id, "relation": "family", "login": "kid2", "name": "小明", "phone": "13912349999"},
    )
    assert resp.status_code == 201, resp.get_json()
    assert len(activation_sms("+8613912349999")) == 1


def test_pages_list_and_resend(client, world, manager_client):
    post_roll(client, world, ROLL)
    page = manager_client.get("/team/residents/?activated=0&lang=zh")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "陈静" in html and "张伟" not in html and "重新发送" in html
    chen = db.session.scalar(db.select(User).where(User.display_name == "陈静"))
    db.session.execute(db.update(ActivationLink).values(created_at=utcnow() - timedelta(minutes=2)))
    db.session.commit()
    resp = manager_client.post(f"/team/residents/{chen.id}/activation", data={"csrf_token": csrf_in(html)})
    assert resp.status_code == 302
    assert len(activation_sms("+8613912340001")) == 2
    again = manager_client.post(f"/team/residents/{chen.id}/activation", data={"csrf_token": csrf_in(html)})
    assert again.status_code == 302 and len(activation_sms("+8613912340001")) == 2  # refused: too soon
    assert "分钟" in manager_client.get(again.headers["Location"]).get_data(as_text=True)


def test_roles_and_other_communities(client, world, app):
    post_roll(client, world, ROLL)
    chen = db.session.scalar(db.select(User).where(User.display_name == "陈静"))
    for user in (world.r1, world.guard):
        headers = world.token(user)
        assert client.get(f"/api/v1/sites/{world.site.slug}/residents", headers=headers).status_code == 403
        assert client.post(f"/api/v1/residents/{chen.id}/activation", headers=headers).status_code == 403
    from portal.accounts.operations import create_user

    with app.test_request_context():
        other = create_user("manager9", world.PASSWORD, "manager", "别的经理", site=world.other_site)
        db.session.commit()
    headers = world.token(other)
    assert client.get(f"/api/v1/sites/{world.site.slug}/residents", headers=headers).status_code == 404
    assert client.post(f"/api/v1/residents/{chen.id}/activation", headers=headers).status_code == 404


def test_the_list_page_is_paged(client, world, manager_client, monkeypatch):
    from portal.residents import routes

    monkeypatch.setattr(routes, "PER_PAGE", 3)
    post_roll(client, world, ROLL)
    first = manager_client.get("/team/residents/?lang=en").get_data(as_text=True)
    assert "Page 1 of 2 (4 people)" in first and first.count('<tr data-id="') == 3
    last = manager_client.get("/team/residents/?lang=zh&page=9").get_data(as_text=True)
    assert "第 2 页，共 2 页" in last and last.count('<tr data-id="') == 1 and "上一页" in last
