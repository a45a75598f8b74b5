"""Open desk streams never starve the gate: real gunicorn with `make run`'s settings, more streams than threads.

Each test serves the app with gunicorn (2 gthread workers x 8 threads, portal.devserver.GUNICORN_ARGS) on
a free port, opens 40 streams, and checks that POST /api/v1/gate/verify still answers at once, that the
caps answer with JSON errors, and that an accepted stream still delivers the gate's events. In Chromium,
a board whose stream is refused falls back to polling and still shows the gate's decisions.
"""

import json
import os
import socket
import time
import urllib.error
import urllib.request

import pytest
from browser_support import chromium, guard_on_desk
from conftest import World, close_app, pg_url, skip_unless
from test_desk_browser import CHROMIUM
from test_desk_browser import live_server as live_server  # the fixture, shared

from bench import _desk_serve as serve
from portal.app import create_app
from portal.config import TestConfig
from portal.extensions import db

# Asserts wall-clock deadlines: runs after the parallel run, beside at most one other serial test (see the Makefile).
pytestmark = pytest.mark.serial

STREAMS = 40
GATE_DEADLINE_S = 2.0  # a gate answers in milliseconds; without the caps it waited for ever (10 s time-outs)


def _close(app):
    with app.app_context():
        close_app(app)


@pytest.fixture
def served(request, tmp_path):
    """(world, port): the world's database served by gunicorn as `make run` serves it."""
    if request.param == "postgres":
        # This worker's emptied schema (conftest's pg_tables): the server finds it through the URL's search_path,
        # which its pool, its gate reads and its listeners all carry. A database of its own took create_all
        # and a DROP DATABASE (a checkpoint): 15 s a test.
        schema = request.getfixturevalue("pg_tables")
        url = f"{pg_url()}?options=-csearch_path%3D{schema}"
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, SERVER_NAME="portal.test")
        request.addfinalizer(lambda: _close(app))
        ctx = app.app_context()
        ctx.push()
        request.addfinalizer(ctx.pop)
        world = World(app)
    else:
        world = request.getfixturevalue("world")
        url = world.app.config["SQLALCHEMY_DATABASE_URI"]
    port = serve.free_port()
    env = os.environ | {
        "DATABASE_URL": url,
        "SECRET_KEY": TestConfig.SECRET_KEY,
        "DATA_KEY": TestConfig.DATA_KEY,
        "PORTAL_ENV": "production",
        "INSTANCE_PATH": str(tmp_path),
        "LOG_LEVEL": "WARNING",
        "DESK_FEED": "auto",
    }
    for name in ("REDIS_URL", "RATELIMIT_STORAGE_URI"):  # the server's own defaults, as with `make run`
        env.pop(name, None)
    proc = serve.start(env, tmp_path / "gunicorn.log", port)
    try:
        yield world, port
    finally:
        serve.stop(proc)


BACKENDS = pytest.mark.parametrize("served", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)], indirect=True)


def _open_streams(port, tokens, wait=3.0):
    """Send one stream request per token, then read each answer's head (status, headers, first bytes)."""
    socks = []
    for token in tokens:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(
            f"GET /api/v1/desk/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\nAccept-Language: en\r\n\r\n".encode()
        )
        socks.append(s)
    deadline = time.monotonic() + wait
    answers = []
    for s in socks:
        buf = b""
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            while b"\r\n\r\n" not in buf or (b" 200 " not in buf.split(b"\r\n", 1)[0] and not _body_complete(buf)):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass  # no answer yet: a stream waiting for a thread
        answers.append((s, buf))
    return answers


def _body_complete(buf):
    head, _, body = buf.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), None
    )
    return length is not None and len(body) >= length


def _status(buf):
    line = buf.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 else None


def _header(buf, name):
    for line in buf.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode()
    return None


def _gate_verify(port, device_token, body):
    """One gate decision; (seconds, decision) or (seconds, None) when it did not answer in time."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/gate/verify",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {device_token}", "Content-Type": "application/json"},
    )
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=GATE_DEADLINE_S) as resp:  # noqa: S310
            return time.monotonic() - t0, json.loads(resp.read())["decision"]
    except urllib.error.HTTPError as exc:
        return time.monotonic() - t0, f"{exc.code} {exc.read()[:300]!r}"
    except OSError:
        return time.monotonic() - t0, None


def _plain(header):
    return header["Authorization"].split(" ", 1)[1]


def _qr(world):
    from portal.passes import codes

    p = world.make_pass(visitor_name="王小明")
    with world.app.test_request_context():
        return codes.qr_text(db.session.merge(p))


def _assert_gate_answers(port, world, rounds=10):
    _, device = world.device("gate-reader")
    qr = _qr(world)
    timings = [_gate_verify(port, _plain(device), {"qr": qr}) for _ in range(rounds)]
    assert all(decision == "grant" for _, decision in timings), timings
    assert max(t for t, _ in timings) < GATE_DEADLINE_S, timings
    return timings


def _read_until_event(sock, seconds=5.0):
    """Event ids that arrive on an open stream within `seconds`."""
    buf, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except OSError:
            continue
        if not chunk:
            break
        buf += chunk
        if b"\nid: " in buf and buf.rstrip(b"\r\n").endswith(b"}"):
            break
    return [int(line[4:]) for line in buf.decode(errors="replace").split("\n") if line.startswith("id: ")]


@BACKENDS
def test_forty_streams_from_one_guard_token_leave_the_gate_answering_at_once(served):
    """One (possibly stolen) guard token opens 40 streams: the per-user cap refuses most, the gate never waits."""
    world, port = served
    token = _plain(world.token(world.guard))
    answers = _open_streams(port, [token] * STREAMS)
    try:
        _assert_gate_answers(port, world)
        statuses = [_status(buf) for _, buf in answers]
        # Per user and per worker: 2 workers x DESK_STREAMS_PER_USER (2).
        assert 1 <= statuses.count(200) <= 4, statuses
        assert statuses.count(200) + statuses.count(429) == STREAMS, statuses
        refused = next(buf for _, buf in answers if _status(buf) == 429)
        assert _header(refused, "Content-Type").startswith("application/json") and _header(refused, "Retry-After") == "30"
        error = json.loads(refused.partition(b"\r\n\r\n")[2])["error"]
        assert (
            error["code"] == "too_many_streams" and error["messages"]["zh"] and error["messages"]["en"] != error["messages"]["zh"]
        )
        # An accepted stream still delivers the gate's events (those just recorded, or replayed ones).
        live = next(sock for sock, buf in answers if _status(buf) == 200)
        assert _read_until_event(live), "no event arrived on an accepted stream"
    finally:
        for sock, _ in answers:
            sock.close()


@BACKENDS
def test_streams_from_many_guards_stop_at_the_per_worker_cap_and_the_gate_still_answers(served):
    """Twenty guards with two boards each (40 streams, 16 threads): at most 4 per worker stream, the rest get a JSON 503."""
    from portal.accounts.operations import create_user

    world, port = served
    with world.app.test_request_context():
        guards = [create_user(f"guard_cap_{n}", world.PASSWORD, "guard", f"保安{n}", site=world.site) for n in range(20)]
        db.session.commit()
    tokens = [_plain(world.token(g)) for g in guards for _ in range(2)]
    answers = _open_streams(port, tokens)
    try:
        _assert_gate_answers(port, world)
        statuses = [_status(buf) for _, buf in answers]
        assert 1 <= statuses.count(200) <= 8 and statuses.count(200) + statuses.count(503) == STREAMS, statuses
        busy = next(buf for _, buf in answers if _status(buf) == 503)
        assert json.loads(busy.partition(b"\r\n\r\n")[2])["error"]["code"] == "streams_busy"
        assert _header(busy, "Retry-After") == "30"
    finally:
        for sock, _ in answers:
            sock.close()


@pytest.mark.integration
@pytest.mark.browser
def test_a_refused_board_polls_and_still_shows_gate_decisions(live_server):  # noqa: F811 - the imported fixture
    """The stream is refused (429): the board says it refreshes every few seconds, and a scan appears by polling."""
    skip_unless(os.path.exists(CHROMIUM), "Debian chromium is not installed")
    import requests

    base, world = live_server
    world.app.config["DESK_STREAMS_PER_USER"] = 0  # read when the first stream asks for a slot
    _, device = world.device("gate-reader")
    qr = _qr(world)
    with chromium() as browser:
        page = browser.new_page()
        page.clock.install()  # the board's poll timers run when the test says so
        guard_on_desk(page, base, world)
        # A locator wait: a wait_for_function string is evaluated in the page, where the CSP sometimes refused it.
        page.locator("#live-status", has_text="refreshing").wait_for(timeout=5000)
        assert page.locator("#events tbody tr").count() == 0
        resp = requests.post(f"{base}/api/v1/gate/verify", json={"qr": qr}, headers=device, timeout=5)
        assert resp.status_code == 200 and resp.json()["decision"] == "grant"
        guard = world.token(world.guard)
        deadline = time.monotonic() + 5
        while not requests.get(f"{base}/api/v1/desk/events", headers=guard, timeout=5).json()["items"]:
            assert time.monotonic() < deadline, "the scan's event was never written"
            time.sleep(0.1)  # the event journal writes it within EVENT_JOURNAL_MS
        page.clock.run_for(11_000)  # past the first poll (within 10 s) and no stream retry yet (30 s at the earliest)
        row = page.wait_for_selector("#events tbody tr[data-id]", state="attached", timeout=5000)
        assert "Granted" in row.inner_text() and "王*明" in row.inner_text()
        assert "live" in page.locator("#live-status").get_attribute("class")
