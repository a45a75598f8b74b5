"""Chromium: from an empty database, the first admin opens a community through pages only (screenshots kept)."""

import os

import pyotp
import pytest
from browser_support import CHROMIUM, LiveServer, chromium, log_in
from conftest import skip_unless
from support import PASSWORD

from portal.extensions import db
from portal.sites.models import Building, Gate, Site, Unit


@pytest.mark.integration
@pytest.mark.browser
def test_the_first_admin_sets_up_a_community_from_the_browser(app, tmp_path):
    skip_unless(os.path.exists(CHROMIUM), "Debian chromium is not installed")
    from portal.accounts.operations import create_user

    assert db.session.scalar(db.select(db.func.count(Site.id))) == 0
    with app.test_request_context():
        admin = create_user("boss", PASSWORD, "admin", "总经理")  # what `residents add --role admin` makes
        db.session.commit()
    app.config["SERVER_NAME"] = None
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with LiveServer(app) as srv, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        log_in(page, srv.url, "boss", PASSWORD, pyotp.TOTP(admin.totp_secret).now())
        page.wait_for_url(f"{srv.url}/team/community/")  # no community yet: the form that opens one
        form = page.locator("#new-site")
        form.locator("input[name=slug]").fill("lake")
        form.locator("input[name=name]").fill("湖畔花园")
        form.locator("input[name=name_en]").fill("Lakeside Garden")
        form.locator("textarea[name=directions]").fill("进门后左转")
        page.screenshot(path=str(shots / "1-open.png"), full_page=True)
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{srv.url}/team/community/lake/")
        for code, name, high in (("1", "1号楼", "18"), ("2", "2号楼", "11")):
            b = page.locator("#new-building")
            b.locator("input[name=code]").fill(code)
            b.locator("input[name=name]").fill(name)
            b.locator("input[name=highest_floor]").fill(high)
            b.locator("button[type=submit]").click()
            page.wait_for_selector("#new-unit")  # the new building's page
            u = page.locator("#new-unit")
            u.locator("input[name=number]").fill("101")
            u.locator("input[name=floor]").fill("1")
            u.locator("button[type=submit]").click()
            page.wait_for_selector(".units tr[data-id]")
            page.goto(f"{srv.url}/team/community/lake/")
        for code, name, kind in (("N", "北门", "pedestrian"), ("CAR", "车行道闸", "vehicle")):
            g = page.locator("#new-gate")
            g.locator("input[name=code]").fill(code)
            g.locator("input[name=name]").fill(name)
            g.locator("select[name=kind]").select_option(kind)
            g.locator("button[type=submit]").click()
            page.wait_for_selector(f"text={name}")
        page.screenshot(path=str(shots / "2-places.png"), full_page=True)
        # A bad floor is explained beside its field, in Chinese, and nothing is added.
        page.goto(f"{srv.url}/team/community/lake/settings")
        page.fill("input[name=retention_days]", "0")
        page.click("#settings button[type=submit]")
        assert "请输入 1 到 730 之间的数字。" in page.inner_text("#settings")
        page.fill("input[name=retention_days]", "14")
        page.click("#settings button[type=submit]")
        page.wait_for_selector("text=设置已保存")
        page.screenshot(path=str(shots / "3-settings.png"), full_page=True)
        page.goto(f"{srv.url}/team/audit/")
        assert "site.settings" in page.inner_text("#audit")
        page.screenshot(path=str(shots / "4-audit.png"), full_page=True)
    site = db.session.scalar(db.select(Site).where(Site.slug == "lake"))
    assert (site.name, site.name_en, site.settings["retention_days"]) == ("湖畔花园", "Lakeside Garden", 14)
    assert {b.code for b in db.session.scalars(db.select(Building).where(Building.site_id == site.id))} == {"1", "2"}
    assert db.session.scalar(db.select(db.func.count(Unit.id))) == 2
    assert {(g.code, g.kind) for g in db.session.scalars(db.select(Gate))} == {("N", "pedestrian"), ("CAR", "vehicle")}
    assert len(list(shots.iterdir())) == 4
