"""Production serving: pass links masked in gunicorn's access log, no Server header, Secure cookies, CSRF expiry."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import itsdangerous.timed
import pytest
from support import csrf_in

from portal.app import create_app
from portal.config import Config, DevelopmentConfig, TestConfig
from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOP"


def _port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn started the way the README and `make run` start it (from the repository root), in production."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    port, log = _port(), tmp_path / "access.log"
    env = dict(
        os.environ,
        DATABASE_URL=url,
        PORTAL_ENV="production",
        INSTANCE_PATH=str(tmp_path),
        SECRET_KEY=TestConfig.SECRET_KEY,
        DATA_KEY=TestConfig.DATA_KEY,
        LOG_LEVEL="WARNING",
    )
    env.pop("SESSION_COOKIE_SECURE", None)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(log),
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", log
    proc.terminate()
    proc.wait(10)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - our own test server
            return resp.status, resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


def test_gunicorn_masks_pass_links_drops_server_header_and_sets_secure_cookies(gunicorn):
    base, log = gunicorn
    status, headers = _get(f"{base}/p/{TOKEN}?ref={TOKEN}")
    assert status in (200, 404)
    assert headers.get("Server") is None
    _, login = _get(f"{base}/login")
    assert login.get("Server") is None
    cookies = login.get_all("Set-Cookie") or []
    assert cookies and all(re.search(r";\s*Secure", c, re.I) for c in cookies), cookies
    time.sleep(0.3)
    text = log.read_text()
    assert "/p/ABCD" in text and TOKEN not in text and TOKEN[:16] not in text


def test_session_cookie_secure_unless_in_development():
    assert Config.SESSION_COOKIE_SECURE is True or os.environ.get("SESSION_COOKIE_SECURE") is not None
    assert DevelopmentConfig.SESSION_COOKIE_SECURE is False or os.environ.get("SESSION_COOKIE_SECURE") is not None


def test_csrf_tokens_expire(app, world, client, monkeypatch):
    assert app.config["WTF_CSRF_TIME_LIMIT"] and Config.WTF_CSRF_TIME_LIMIT <= 24 * 3600
    page = client.get("/login").get_data(as_text=True)
    token = csrf_in(page)
    later = time.time() + app.config["WTF_CSRF_TIME_LIMIT"] + 60
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    resp = client.post("/login", data={"csrf_token": token, "login": "r1", "password": world.PASSWORD})
    assert resp.status_code == 403  # the form expired: reload and try again
