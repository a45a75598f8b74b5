"""A guard's desk page in headless Chromium shows a gate verification made through the API within a second."""

import os
import threading
import time

import pytest
import requests
from browser_support import CHROMIUM, chromium, guard_on_desk
from conftest import World, close_app, skip_unless

from portal.app import create_app
from portal.config import TestConfig
from portal.extensions import db

# Asserts wall-clock deadlines: runs after the parallel run, beside at most one other serial test (see the Makefile).
pytestmark = pytest.mark.serial


@pytest.fixture
def live_server(tmp_path):
    """The app on a real threaded HTTP server (127.0.0.1, any free port) with a SQLite file database."""
    from werkzeug.serving import make_server

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'live.db'}", WTF_CSRF_SSL_STRICT=False)
    ctx = app.app_context()
    ctx.push()
    db.create_all()
    world = World(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", world
    server.shutdown()
    close_app(app)
    ctx.pop()


@pytest.mark.integration
@pytest.mark.browser
def test_gate_verification_appears_on_the_desk_within_a_second(live_server):
    skip_unless(os.path.exists(CHROMIUM), "Debian chromium is not installed")
    from portal.passes import codes

    base, world = live_server
    _, device_header = world.device("gate-reader", kind="gate_reader")
    p = world.make_pass(visitor_name="王小明")
    with world.app.test_request_context():
        qr = codes.qr_text(db.session.merge(p))
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        guard_on_desk(page, base, world)
        page.wait_for_selector("#live-status.live", timeout=5000)
        assert page.locator("#events tbody tr").count() == 0
        started = time.monotonic()
        resp = requests.post(f"{base}/api/v1/gate/verify", json={"qr": qr, "direction": "in"}, headers=device_header, timeout=5)
        assert resp.status_code == 200, resp.text
        decision = resp.json()["decision"]
        row = page.wait_for_selector("#events tbody tr[data-id]", timeout=1000)
        elapsed = time.monotonic() - started
        assert elapsed < 1.0
        assert row.get_attribute("class").startswith(decision)
        text = row.inner_text()
        assert ("Granted" if decision == "grant" else "Denied") in text and "王小明" not in text
        if decision == "grant":
            assert "王*明" in text and "QR code" in text and "A栋 1201" in text
        assert "In" in text  # the direction the reader reported, as the server-rendered rows show it
        door_dev, _ = world.device("east-door", kind="door_controller")
        guard = world.token(world.guard)
        resp = requests.post(
            f"{base}/api/v1/desk/remote-open",
            headers=guard,
            timeout=5,
            json={"device_id": door_dev.id, "door": 2, "reason": "courier with a trolley"},
        )
        assert resp.status_code == 202, resp.text
        remote = page.wait_for_selector(f"#events tbody tr[data-id='{resp.json()['event_id']}']", timeout=2000)
        # A streamed remote open names the device, the door and the guard, like a row rendered by the server.
        assert all(part in remote.inner_text() for part in ("east-door", "door 2", world.guard.display_name))
