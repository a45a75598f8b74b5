"""A live server and a headless Chromium for browser tests (Debian chromium, Playwright's Python API)."""

import atexit
import contextlib
import inspect
import os
import shutil
import sys
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


def _frames(context=1):
    """inspect.stack() without finding each frame's source file: what Playwright reads of it (file, line, frame).

    Playwright takes the caller's stack on every call (click, fill, goto, ...) to label it; inspect.stack looks
    each frame's module up among every loaded module, and in a test process that was 3 % of the suite's CPU.
    """
    frame, found = sys._getframe(1), []
    while frame is not None:
        found.append(inspect.FrameInfo(frame, frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name, None, None))
        frame = frame.f_back
    return found


class _QuickInspect:
    """The inspect module as Playwright's connection sees it: the same, but a cheaper stack()."""

    stack = staticmethod(_frames)

    def __getattr__(self, name):
        return getattr(inspect, name)


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
        from playwright._impl import _connection, _network, _sync_base
        from playwright.sync_api import sync_playwright

        _connection.inspect = _network.inspect = _sync_base.inspect = _QuickInspect()  # each takes the stack
        _stop()
        _running["playwright"] = sync_playwright().start()
        atexit.register(_stop)
        _running["browser"] = browser = _running["playwright"].chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    try:
        yield browser
    finally:
        for context in browser.contexts:
            context.close()


def log_in(page, base, login, password, otp=None, lang=None):
    """Log in through the form (password, and the TOTP code staff need) and wait until it has led away from it."""
    page.goto(f"{base}/login" + (f"?lang={lang}" if lang else ""))
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    if otp:
        page.fill("input[name=otp]", otp)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "/login" not in page.url, page.inner_text("body")
    return page


def guard_on_desk(page, base, world):
    """Log the site's guard in through the form (password and TOTP) on page, in English; waits for the desk."""
    log_in(page, base, world.guard.login, world.PASSWORD, world.otp(world.guard), lang="en")
    page.wait_for_url(f"{base}/desk/**")
    return page


def fill_mqtt_door(page, url, topic):
    """Fill the new-device form (driver mqtt) for a one-door esp-rfid controller at url, topic."""
    page.fill("#name", "east-door")
    page.select_option("#kind", "door_controller")
    page.fill("#o_url", url)
    page.fill("#o_topic", topic)
    page.fill("#o_timeout", "2")
    page.fill("#doors", "1")


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
