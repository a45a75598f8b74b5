"""Resident pages in headless Chromium at phone size: the header fits, revoking asks first, filters survive a language switch."""

import pytest
from browser_support import log_in, phone_page

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def _log_in(page, base, world, user):
    page.goto(f"{base}/login")
    page.fill("input[name=login]", user.login)
    page.fill("input[name=password]", world.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_resident_pages_fit_a_phone_in_english_and_revoking_asks_first(app, world):
    from portal.extensions import db
    from portal.passes.models import Pass

    p = world.make_pass(visitor_name="王小明")
    with phone_page(app, locale="en-US") as (base, page):
        _log_in(page, base, world, world.r1)
        for path in ("/my/", f"/my/passes/{p.id}"):
            page.goto(f"{base}{path}")
            assert "Log out" in page.inner_text("header")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
        asked = []
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        page.click("button.danger")
        page.wait_for_timeout(300)
        assert asked and "Revoke this pass?" in asked[0]
        db.session.expire_all()
        assert db.session.get(Pass, p.id).status == "active"  # dismissed: nothing sent
        page.once("dialog", lambda d: d.accept())
        with page.expect_navigation():
            page.click("button.danger")
        db.session.expire_all()
        assert db.session.get(Pass, p.id).status == "revoked"


def test_language_switch_keeps_the_page_filters(app, world):
    with phone_page(app) as (base, page):
        page.goto(f"{base}/login?next=%2Fmy%2F")
        page.click("#lang-switch")
        page.wait_for_load_state()
        assert "next=%2Fmy%2F" in page.url and "lang=en" in page.url
        assert "Log in" in page.inner_text("body")


def test_host_is_asked_before_refusing_but_not_before_letting_in(app, world):
    from portal.extensions import db
    from portal.walkins.models import WalkIn

    api = app.test_client()
    for name in ("快递员", "维修工"):
        api.post("/api/v1/desk/walk-ins", json={"name": name, "unit_id": world.unit_a.id}, headers=world.token(world.guard))
    first, second = db.session.scalars(db.select(WalkIn.id).order_by(WalkIn.id)).all()
    with phone_page(app) as (base, page):
        _log_in(page, base, world, world.r1)
        page.goto(f"{base}/host/approvals")
        asked = []
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        page.locator("button[value=refuse]").first.click()
        page.wait_for_timeout(300)
        assert asked == ["确定拒绝这个请求吗？"]
        page.on("dialog", lambda d: asked.append(d.message))  # any further question would be recorded (and dismissed)
        with page.expect_navigation():
            page.locator("button[value=approve]").first.click()
        assert len(asked) == 1
    db.session.expire_all()
    assert [db.session.get(WalkIn, i).status for i in (first, second)] == ["approved", "pending"]


def test_desk_pages_fit_a_guards_phone(app, world):
    """Wide tables scroll inside themselves; the desk pages never scroll sideways at 360 px."""
    from desk_support import event

    event(world, decision="deny", reason="revoked")
    with phone_page(app, locale="en-US") as (base, page):
        log_in(page, base, world.guard.login, world.PASSWORD, world.otp(world.guard))
        for path in ("/desk/", "/desk/exceptions", "/desk/items", "/desk/contractors", "/desk/walk-ins"):
            page.goto(f"{base}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
        page.goto(f"{base}/desk/")
        assert "Pass revoked" in page.inner_text("#events")
