"""Database unreachable: every verify answers 200 deny/error, the log stays short, the attempts are recorded later."""

import contextlib
import logging
import time

import pytest
from conftest import World
from gate_support import events
from sqlalchemy.exc import OperationalError
from test_gate_reconnect import _kill, named_app  # noqa: F401 - the fixture is used by name

from portal.core import reads
from portal.devices import api_tokens as device_tokens
from portal.events import journal
from portal.extensions import db
from portal.gate import cache as decision_cache
from portal.gate import errlog, spool
from portal.passes import codes

URL = "/api/v1/gate/verify"


@contextlib.contextmanager
def outage(app, monkeypatch, kill=None):
    """The database refuses every connection; the open ones are gone (killed on PostgreSQL, closed on SQLite)."""
    dbapi = db.engine.dialect.loaded_dbapi

    def refuse(*args, **kwargs):
        raise dbapi.OperationalError("connection refused")

    db.session.remove()  # the test's own transaction
    if kill is not None:
        kill()
    monkeypatch.setattr(dbapi, "connect", refuse)
    reads.close(app)
    db.engine.dispose()
    if kill is not None:
        # PostgreSQL: the decision cache may answer from rows it holds until its listener has seen the connection
        # go, within GATE_CACHE_STALE_MS (docs/gate.md); a scan in that instant may be granted by design.
        bound = time.monotonic() + app.config.get("GATE_CACHE_STALE_MS", 250) / 1000
        while decision_cache.fresh(app) is not None and time.monotonic() < bound + 0.5:
            time.sleep(0.005)
        assert decision_cache.fresh(app) is None, "the cache still answers after its staleness bound"
    try:
        yield
    finally:
        monkeypatch.undo()


def _gate_lines(caplog):
    return [r for r in caplog.records if r.name.startswith("portal") and r.levelno >= logging.WARNING]


def _run_outage(app, world, monkeypatch, caplog, kill=None):
    client = app.test_client()
    device, header = world.device()
    device_id, site_id = device.id, world.site.id
    p = world.make_pass(plate="京A12345")
    qr = codes.qr_text(p)
    assert client.post(URL, json={"qr": qr}, headers=header).get_json()["reason"] == "ok"
    journal.journal(app).flush()
    before = len(events())
    errlog.reset()
    monkeypatch.setattr(errlog, "INTERVAL_SECONDS", 60.0)
    bodies = [{"qr": qr}, {"code": p.keypad_no + "000000"}, {"plate": "京A12345", "direction": "in"}] * 10
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="portal"), outage(app, monkeypatch, kill):
        answers = [client.post(URL, json=body, headers=header) for body in bodies]
        stranger = client.post(URL, json={"qr": qr}, headers={"Authorization": "Bearer vpd_" + "x" * 40})
        malformed = client.post(URL, json={"qr": 5}, headers=header)
        for resp in [*answers, stranger, malformed]:
            assert resp.status_code == 200 and resp.is_json, resp.status_code
            data = resp.get_json()
            assert (data["decision"], data["reason"], data["floors"]) == ("deny", "error", [])
        lines = _gate_lines(caplog)
        # A line per kind of failure, not one traceback per call (32 calls).
        assert len(lines) <= 3, [r.getMessage() for r in lines]
        assert not any("Traceback" in r.getMessage() or "\n" in r.getMessage() for r in lines)
        monkeypatch.setattr(errlog, "INTERVAL_SECONDS", 0.0)
        client.post(URL, json={"qr": qr}, headers=header)
        counted = [r.getMessage() for r in _gate_lines(caplog) if "token lookup failed closed" in r.getMessage()]
        assert len(counted) == 2 and "repeats=31 " in counted[-1], counted  # the 31 calls after the first
    assert spool.spool(app).items  # 31 attempts with a real token, 1 with a stranger's; malformed is no attempt
    # The database is back: the next verify works and hands the spool over after its response.
    assert client.post(URL, json={"qr": qr}, headers=header).get_json()["reason"] == "ok"
    assert not spool.spool(app).items
    journal.journal(app).flush()
    spool.drain(app)
    journal.journal(app).flush()
    db.session.remove()
    recorded = events()[before:]
    spooled = [e for e in recorded if (e.details or {}).get("spooled")]
    assert len(spooled) == len(bodies) + 1  # the 30 and the one after the interval, each exactly once
    assert {(e.decision, e.reason, e.device_id, e.site_id) for e in spooled} == {("deny", "error", device_id, site_id)}
    assert sorted(e.method for e in spooled) == sorted([next(iter(b)) for b in bodies] + ["qr"])
    assert [e.reason for e in recorded if not (e.details or {}).get("spooled")] == ["ok"]


def test_outage_sqlite(app, world, monkeypatch, caplog):
    _run_outage(app, world, monkeypatch, caplog)


@pytest.mark.integration
def test_outage_postgresql(named_app, monkeypatch, caplog):  # noqa: F811
    app, name = named_app

    def kill():
        """The app's connections and its decision cache's listener (its own application_name), as a real outage would."""
        _kill(name)
        _kill(decision_cache.for_app(app).application_name)

    _run_outage(app, World(app), monkeypatch, caplog, kill=kill)


def test_token_lookup_failure_denies_and_is_recorded_later(app, client, world, monkeypatch):
    p = world.make_pass()
    _, header = world.device()

    def refused():
        raise OperationalError("SELECT api_tokens ...", {}, Exception("server closed the connection"))

    monkeypatch.setattr(device_tokens, "authenticate", refused)
    resp = client.post(URL, json={"code": p.keypad_no + "123456"}, headers=header)
    assert resp.status_code == 200 and resp.get_json()["reason"] == "error"
    monkeypatch.undo()
    assert client.post(URL, json={"qr": codes.qr_text(p)}, headers=header).get_json()["reason"] == "ok"
    journal.journal(app).flush()
    assert sorted((e.method, e.reason) for e in events()) == [("code", "error"), ("qr", "ok")]


def test_a_spool_that_cannot_be_written_is_left_alone_for_a_while(app, client, world, monkeypatch):
    """A database that answers reads but refuses writes costs one failed write per RETRY_SECONDS, not one per scan."""
    import time

    monkeypatch.setattr(journal.Journal, "_start", lambda self: None)  # its thread retries every 10 s on its own
    _, header = world.device()
    p = world.make_pass(max_entries=None)
    spool.keep(device_tokens.bearer_hash(header["Authorization"]), "qr", None, time.perf_counter(), "OperationalError")
    tried = []

    def refused(app_, batch):
        tried.append(len(batch))
        raise OperationalError("INSERT", {}, Exception("attempt to write a readonly database"))

    monkeypatch.setattr(journal, "write_retrying", refused)
    for _ in range(5):
        resp = client.post("/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers=header)
        assert resp.status_code == 200 and resp.get_json()["decision"] == "grant"
    assert tried == [1] and len(spool.spool().items) == 1  # tried once, kept for later
    monkeypatch.setattr(spool.spool(), "retry_at", 0.0)  # the pause is over
    client.post("/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers=header)
    assert tried == [1, 1]
