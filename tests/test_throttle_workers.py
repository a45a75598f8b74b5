"""Throttles hold across gunicorn workers (2 workers x 8 threads, as `make run`), on db:// and redis://."""

import http.client
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import IS_PG, PG_URL, pg_url, skip_unless
from sqlalchemy import create_engine, make_url

from portal.config import TestConfig
from portal.gate import throttle
from portal.passes import codes

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
pytestmark = pytest.mark.integration


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gunicorn(tmp_path, database_url, storage, workers=2, **extra):
    port = _free_port()
    env = dict(
        os.environ,
        **extra,
        DATABASE_URL=database_url,
        RATELIMIT_STORAGE_URI=storage,
        PORTAL_ENV="production",
        SECRET_KEY=TestConfig.SECRET_KEY,
        DATA_KEY=TestConfig.DATA_KEY,
        INSTANCE_PATH=str(tmp_path),
    )
    env.pop("RATELIMIT_PER_WORKER", None)
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            "8",
            "--worker-class",
            "gthread",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, port


def _wait(proc, port):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            _post(port, "/api/v1/auth/logout", {}, {})
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _post(port, path, body, headers):
    # A new connection per request, so the two workers take turns as the kernel hands them out.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", "Connection": "close", **headers})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, (json.loads(data) if data else None)


def _check_limits(world, tmp_path, database_url, storage, **extra):
    passes = [world.make_pass() for _ in range(12)]
    _, header = world.device("keypad-1")
    proc, port = _gunicorn(tmp_path, database_url, storage, **extra)
    try:
        assert _wait(proc, port), (tmp_path / "gunicorn.log").read_text()
        reasons = []
        for n in range(30):  # 12 passes take turns: each sees at most 3 guesses, below its own limit of 5
            good = codes.keypad_code(passes[n % 12])
            status, data = _post(
                port, "/api/v1/gate/verify", {"code": good[:5] + f"{(int(good[5:]) + 1 + n) % 10**6:06d}"}, header
            )
            assert status == 200
            reasons.append(data["reason"])
        keypad_minute = int(throttle.DEFAULTS["GATE_CODE_DEVICE_LIMIT"].split("/")[0])
        assert reasons == ["unknown"] * keypad_minute + ["throttled"] * (30 - keypad_minute)
        statuses = [
            _post(port, "/api/v1/auth/token", {"login": f"nobody{n}", "password": "wrong password"}, {})[0] for n in range(35)
        ]
        assert statuses.index(429) + 1 == 31  # "30/minute": the 31st request in a minute is refused
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_two_workers_share_counters_on_sqlite(world, tmp_path):
    _check_limits(world, tmp_path, world.app.config["SQLALCHEMY_DATABASE_URI"], "db://")


def test_two_workers_share_counters_on_postgres(pg_world, pg_tables, tmp_path):
    skip_unless(IS_PG, "DATABASE_URL does not point at PostgreSQL")
    # The workers reach the private schema through a role whose search_path is that schema (the app sets
    # its own libpq options, which would override PGOPTIONS).
    role = f"r_{pg_tables}"
    admin = create_engine(pg_url())
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
        conn.exec_driver_sql(f'ALTER ROLE "{role}" SET search_path = "{pg_tables}"')
    try:
        url = make_url(PG_URL).set(username=role).render_as_string(hide_password=False)
        _check_limits(pg_world, tmp_path, url, "db://")
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}" CASCADE')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def test_two_workers_share_counters_on_redis(world, tmp_path):
    redis = pytest.importorskip("redis")
    url = REDIS_URL.rstrip("/") + "/13"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.exceptions.ConnectionError:
        skip_unless(False, f"no Redis at {REDIS_URL}")
    _check_limits(world, tmp_path, world.app.config["SQLALCHEMY_DATABASE_URI"], url)


def test_several_workers_refuse_memory_storage(world, tmp_path):
    proc, port = _gunicorn(tmp_path, world.app.config["SQLALCHEMY_DATABASE_URI"], "memory://")
    assert proc.wait(timeout=30) != 0
    assert "counts per worker" in (tmp_path / "gunicorn.log").read_text()
    one, port = _gunicorn(tmp_path, world.app.config["SQLALCHEMY_DATABASE_URI"], "memory://", workers=1)
    try:
        assert _wait(one, port)
    finally:
        one.terminate()
        one.wait(timeout=30)
