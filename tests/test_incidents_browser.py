"""A guard on a 360-px phone logs an incident with a photo, reads the record and acknowledges it (headless Chromium)."""

import pytest
from browser_support import log_in, phone_page
from feedback_support import png_bytes

from portal.extensions import db
from portal.incidents.models import Incident

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_guard_logs_and_acknowledges_an_incident_on_a_phone(app, world, tmp_path):
    photo = tmp_path / "leak.png"
    photo.write_bytes(png_bytes())
    with phone_page(app) as (base, page):
        log_in(page, base, world.guard.login, world.PASSWORD, world.otp(world.guard))
        page.goto(f"{base}/desk/incidents/new")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.select_option("select[name=kind]", "water_leak")
        page.check("input[name=severity][value=high]")
        page.fill("input[name=location]", "地下车库B2")
        page.select_option("select[name=building_id]", str(world.bldg_a.id))
        page.fill("textarea[name=description]", "水管爆裂，积水约5厘米。")
        page.set_input_files("input[name=photos]", str(photo))
        with page.expect_navigation():
            page.click("form.card button[type=submit]")
        assert "事件已登记" in page.inner_text("body") and "漏水" in page.inner_text("h1")
        wide = page.evaluate(
            "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 360)"
            ".map(e => e.tagName + '.' + e.className + ' ' + (e.name || '') + ' ' + Math.round(e.getBoundingClientRect().right))"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, wide
        assert page.evaluate("document.querySelector('.photos img').naturalWidth") > 0  # the photo is served and decodes
        with page.expect_navigation():
            page.click("form[action$='/acknowledge'] button")
        assert "已确认" in page.inner_text("body")
        page.goto(f"{base}/desk/incidents/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    inc = db.session.scalar(db.select(Incident))
    db.session.refresh(inc)
    assert (inc.status, inc.acknowledged_by_id, len(inc.photos)) == ("acknowledged", world.guard.id, 1)
