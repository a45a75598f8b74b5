"""A guard walks a three-checkpoint round on a phone in Chromium, offline, by the stickers' QR texts; one is skipped."""

import io
import time

import pytest
import zxingcpp
from browser_support import LiveServer, chromium, log_in, phone_context
from feedback_support import png_bytes
from patrol_support import route
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from portal.extensions import db
from portal.patrol.models import Hazard

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def _log_in(page, base, world, user):
    log_in(page, base, user.login, world.PASSWORD, world.otp(user), lang="zh")
    page.wait_for_url(f"{base}/desk/**")


def _wait_text(page, selector, text, seconds=10.0):
    """Poll: wait_for_function compiles code in the page, which our CSP forbids."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if page.locator(selector).count() and text in page.inner_text(selector):
                return
        except PlaywrightError:  # the page reloaded between the two reads: read the new one
            pass
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {selector}: {page.inner_text('body')[:500]}")


def _wait_until(page, expression, seconds=10.0):
    """Poll a promise-valued expression (evaluated by the test driver, which the page's CSP does not restrict)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if page.evaluate(expression):
            return
        time.sleep(0.1)
    raise AssertionError(f"never true: {expression}")


def test_guard_scans_stickers_offline_skips_one_and_the_desk_shows_it(app, world):
    cps, r, payloads = route(world, names=["地库B2消防门", "北门岗亭", "垃圾分类点"])
    app.config["SERVER_NAME"] = None
    with LiveServer(app) as srv, chromium() as browser:
        # The manager's sticker sheet, read back from the screen the way a phone camera reads the printed QR.
        sheet = browser.new_page(viewport={"width": 1280, "height": 900})
        _log_in(sheet, srv.url, world, world.manager)
        sheet.goto(f"{srv.url}/patrol/stickers", wait_until="load")
        decoded = {}
        for fig in sheet.locator("figure.sticker").all():
            found = zxingcpp.read_barcodes(Image.open(io.BytesIO(fig.locator("img").screenshot())))
            assert found, "no QR found on a sticker"
            decoded[int(fig.get_attribute("data-checkpoint"))] = found[0].text
        assert decoded == {c.id: p for c, p in zip(cps, payloads, strict=True)}

        context = phone_context(browser)
        page = context.new_page()
        _log_in(page, srv.url, world, world.guard)
        page.goto(f"{srv.url}/patrol/")
        page.click(f"button[data-route='{r.id}']")
        page.wait_for_url(f"{srv.url}/patrol/rounds/*")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        _wait_until(page, "caches.match(location.pathname).then(r => !!r)")  # the service worker kept the page
        context.set_offline(True)  # the garage has no signal
        for cp in (cps[0], cps[2]):  # the gate booth in the middle is skipped
            page.fill("#code", decoded[cp.id])
            page.click("#manual button[type=submit]")
            _wait_text(page, f"#stops li[data-checkpoint='{cp.id}']", "已保存在本机")
        _wait_text(page, "#sync-status", "无网络")
        page.click("#hazard-box summary")  # a blocked fire lane, photographed with no signal
        page.select_option("#hazard-where", str(cps[2].id))
        page.fill("#hazard-text", "消防通道被电动车堵住")
        page.set_input_files("#hazard-photo", files=[{"name": "p.png", "mimeType": "image/png", "buffer": png_bytes((640, 480))}])
        page.click("#hazard button[type=submit]")
        _wait_text(page, "#sync-status", "无网络")
        round_id = page.get_attribute("#round", "data-round-id")
        queued = page.evaluate(f"JSON.parse(localStorage.getItem('patrol-round-{round_id}') || 'null')")
        assert queued is not None and [s["payload"] for s in queued["scans"]] == [decoded[cps[0].id], decoded[cps[2].id]]
        # The browser drops the tab, or the guard reloads it, still with no signal: the page opens from the
        # service worker's copy with what was queued marked, and the queue is intact.
        shown = page.inner_text("h1")
        with app.app_context():  # renamed on the server meanwhile: only the kept copy still says the old name
            db.session.get(type(r), r.id).name = shown + "（新）"
            db.session.commit()
        with srv.unplugged():  # the worker's own fetches ignore the emulated offline state: no server at all
            reloaded = page.reload()
            assert reloaded.from_service_worker and reloaded.ok
            assert page.inner_text("h1") == shown
            assert "地库B2消防门" in page.inner_text("#stops")
            _wait_text(page, f"#stops li[data-checkpoint='{cps[0].id}']", "已保存在本机")
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"  # app.css
        page.click("#finish")
        context.set_offline(False)
        # Back online the page syncs by itself (the online event, then every 10 s) and reloads; the button may
        # already be gone by the time it is pressed.
        try:
            page.click("#sync-now", timeout=2000, no_wait_after=True)
        except PlaywrightError:
            pass
        _wait_text(page, "#round-status", "完成", seconds=25)  # the page reloads once the server has the round
        assert "已到达" in page.inner_text(f"#stops li[data-checkpoint='{cps[0].id}']")
        assert page.inner_text("h1") == shown + "（新）"  # with signal, the page is the server's, never the copy
        assert "漏巡" in page.inner_text(f"#stops li[data-checkpoint='{cps[1].id}']")
        with app.app_context():
            (hazard,) = db.session.scalars(db.select(Hazard)).all()
            assert hazard.checkpoint_id == cps[2].id and hazard.photo_type == "image/jpeg" and hazard.round_id
            assert hazard.found_at < hazard.created_at  # the phone's time, not the upload's
        page.goto(f"{srv.url}/desk/exceptions")
        row = page.locator("tr", has_text="巡逻点漏巡")
        assert row.count() == 1 and "北门岗亭" in row.inner_text() and "地库B2消防门" not in row.inner_text()
