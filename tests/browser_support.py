"""A live server and a headless Chromium for browser tests (Debian chromium, Playwright's Python API)."""

import atexit
import contextlib
import os
import shutil
import threading

from conftest import skip_unless
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LiveServer:
    """The app served by a threaded werkzeug server on 127.0.0.1:<free port>."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()

    @contextlib.contextmanager
    def unplugged(self):
        """The server gone for a while (connections refused, open ones closed), then back on the same port."""
        app, port = self.server.app, self.server.server_port
        self.server.shutdown()
        self.server.server_close()
        try:
            yield
        finally:
            self.server = make_server("127.0.0.1", port, app, threaded=True)
            self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
            self.thread.start()


_running = {}  # this process's Playwright driver and browser, started by the first browser test


def _stop():
    if "browser" in _running:
        with contextlib.suppress(Exception):
            _running.pop("browser").close()
    if "playwright" in _running:
        with contextlib.suppress(Exception):
            _running.pop("playwright").stop()


@contextlib.contextmanager
def chromium():
    """Debian's headless Chromium, launched once per test process rather than once per test.

    Each test gets the same browser; every context (and page) it opened is closed after it, so no cookie,
    storage or route carries over. Skipped locally when Chromium is absent, a failure in CI.
    """
    skip_unless(os.path.exists(CHROMIUM), "Debian chromium is not installed")
    browser = _running.get("browser")
    if browser is None or not browser.is_connected():
        from playwright.sync_api import sync_playwright

        _stop()
        _running["playwright"] = sync_playwright().start()
        atexit.register(_stop)
        _running["browser"] = browser = _running["playwright"].chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    try:
        yield browser
    finally:
        for context in browser.contexts:
            context.close()


def guard_on_desk(page, base, world):
    """Log the site's guard in through the form (password and TOTP) on page, in English; waits for the desk."""
    page.goto(f"{base}/login?lang=en")
    page.fill("input[name=login]", world.guard.login)
    page.fill("input[name=password]", world.PASSWORD)
    page.fill("input[name=otp]", world.otp(world.guard))
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/desk/**")
    return page


def phone_context(browser, locale="zh-CN"):
    """A 360-px-wide phone."""
    return browser.new_context(
        viewport={"width": 360, "height": 780}, device_scale_factor=3, is_mobile=True, has_touch=True, locale=locale
    )


@contextlib.contextmanager
def phone_page(app, locale="zh-CN"):
    """(server URL, a page on a 360-px phone) for one test; the server stops and the page closes afterwards."""
    app.config["SERVER_NAME"] = None
    with LiveServer(app) as srv, chromium() as browser:
        yield srv.url, phone_context(browser, locale=locale).new_page()
