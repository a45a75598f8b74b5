"""The visitor's pass page in headless Chromium at phone size: the QR on screen is the live one."""

import io
import json
import time
import urllib.request

import pytest
import zxingcpp
from browser_support import LiveServer, chromium, phone_context
from PIL import Image

from portal.core import timeutil

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def _wait_for_qr(page, seconds=5.0):
    """Poll with evaluate: wait_for_function compiles code in the page, which our CSP rightly forbids."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if page.evaluate("(() => { const i = document.getElementById('qr'); return i.complete && i.naturalWidth > 0; })()"):
            return
        time.sleep(0.05)
    raise AssertionError("the QR image did not load")


def _live(url):
    with urllib.request.urlopen(url) as resp:  # noqa: S310 - the local test server's http:// URL
        return json.loads(resp.read())


def test_pass_page_screenshot_decodes_to_live_qr_and_switches_language(app, world, monkeypatch):
    p = world.make_pass(visitor_name="王小明")
    now = int(time.time())
    monkeypatch.setattr(timeutil, "now_ts", lambda: now)  # the QR step cannot turn between screenshot and /live
    app.config["SERVER_NAME"] = None
    with LiveServer(app) as srv, chromium() as browser:
        page = phone_context(browser).new_page()
        base = f"{srv.url}/p/{p.link_token}"
        for _ in range(3):  # retry if the screenshot could not be decoded
            page.goto(base, wait_until="load")  # "load" waits for the QR image
            _wait_for_qr(page)
            shot = page.screenshot(full_page=True)
            live = _live(base + "/live")
            found = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
            if found and found[0].text == live["qr"]:
                break
        assert found, "no QR found in the screenshot"
        assert found[0].text == live["qr"]
        code_on_screen = page.inner_text("#code").replace(" ", "")
        assert code_on_screen == live["code"]
        # the QR fills most of a 360-px screen and the page does not scroll sideways
        box = page.locator("#qr").bounding_box()
        assert box["width"] >= 300
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert "键盘通行码" in page.inner_text("body")
        page.click("#lang-switch")
        page.wait_for_load_state()
        assert "Keypad code" in page.inner_text("body")
        assert page.evaluate("document.documentElement.lang") == "en"
        page.click("#lang-switch")
        page.wait_for_load_state()
        assert "键盘通行码" in page.inner_text("body")


def test_pass_page_follows_browser_language(app, world):
    p = world.make_pass()
    app.config["SERVER_NAME"] = None
    with LiveServer(app) as srv, chromium() as browser:
        page = phone_context(browser, locale="en-US").new_page()
        page.goto(f"{srv.url}/p/{p.link_token}")
        assert "Keypad code" in page.inner_text("body")
