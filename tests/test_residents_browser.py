"""In headless Chromium: a manager moves a resident in from the unit page; the resident opens the SMS link on a
360-px phone, sets a password and is logged in; the link then shows that it is spent."""

import pyotp
import pytest
from browser_support import LiveServer, chromium, phone_context
from residents_support import activation_sms, link_path
from support import csrf_in

from portal.extensions import db

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_move_in_then_activate_on_a_phone(app, world):
    app.config["SERVER_NAME"] = None
    with LiveServer(app) as srv, chromium() as browser:
        base = srv.url
        desk = browser.new_context(locale="zh-CN")
        token = csrf_in(desk.request.get(f"{base}/login").text())
        form = {"csrf_token": token, "login": world.manager.login, "password": world.PASSWORD}
        desk.request.post(f"{base}/login", form=form | {"otp": pyotp.TOTP(world.manager.totp_secret).now()})
        page = desk.new_page()
        page.goto(f"{base}/team/units/{world.unit_b.id}")
        page.fill("input[name=name]", "周芳")
        page.fill("input[name=phone]", "139 1234 5003")
        page.select_option("select[name=relation]", "family")
        page.click("form[action$='/move-in'] button[type=submit]")
        page.wait_for_load_state()
        assert "周芳 已入住" in page.inner_text("body") and "已发送，待激活" in page.inner_text("#current")

        db.session.expire_all()
        path = link_path(activation_sms("+8613912345003")[0])
        phone = phone_context(browser).new_page()
        phone.goto(base + path)
        assert "激活账号" in phone.inner_text("h1")
        phone.fill("input[name=password]", "my new family passphrase")
        phone.fill("input[name=confirm]", "my new family passphrase")
        phone.click("button[type=submit]")
        phone.wait_for_load_state()
        assert phone.url.endswith("/my/") and "密码已设置" in phone.inner_text("body")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        phone.goto(base + path)
        assert "链接无效" in phone.inner_text("h1")
