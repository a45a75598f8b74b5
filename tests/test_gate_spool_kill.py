"""Attempts a worker spooled while the database was unreachable outlive its SIGKILL (portal.gate.spool, portal.events.ahead).

The outage is the SQLite file's directory moved away: every new connection fails to open the database,
as the token lookup does when the server is gone.
"""

import os
import threading
from datetime import datetime

from conftest import World
from support import killed_worker

from portal.app import create_app
from portal.config import TestConfig
from portal.core import reads
from portal.core.timeutil import utcnow
from portal.events import ahead, journal
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.gate import spool
from portal.passes import codes

URL = "/api/v1/gate/verify"
STRANGER = {"Authorization": "Bearer vpd_" + "x" * 40}  # a device token no device has


def _killed_worker(tmp_path, before_kill=None):
    """Run a worker that answers three scans and a stranger's during an outage, then is SIGKILLed.

    Returns what it reported: the device id and the times before and after the scans.
    """
    app = _app(tmp_path)  # made here (it opens nothing yet), so this process imports the features once, not both

    def work():
        with app.app_context():
            db.create_all()
            world = World(app)
            device, header = world.device("reader")
            device_id, p = device.id, world.make_pass(plate="京A12345")
            scans = [{"qr": codes.qr_text(p)}, {"code": p.keypad_no + "000000"}, {"plate": "京A12345", "direction": "in"}]
            db.session.remove()
            reads.close(app)
            db.engine.dispose()
            os.rename(tmp_path / "db", tmp_path / "away")
            client = app.test_client()
            before = utcnow()
            answers = [client.post(URL, json=scan, headers=header).get_json() for scan in scans]
            answers.append(client.post(URL, json=scans[0], headers=STRANGER).get_json())
            assert {(a["decision"], a["reason"]) for a in answers} == {("deny", "error")}, answers
            assert len(spool.spool(app).items) == 4
            after = utcnow()
            if before_kill:
                before_kill(app)
            return {"device": device_id, "before": before.isoformat(), "after": after.isoformat()}

    return killed_worker(work)


def _app(tmp_path):
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'db' / 'kill.db'}", SERVER_NAME="portal.test",
                      EVENT_JOURNAL_MS=60_000, EVENT_JOURNAL_DIR=str(tmp_path / "journal"))  # fmt: skip


def _recover(tmp_path):
    """What a worker started after the kill does first (a new process's app, so its own locks are new)."""
    app = _app(tmp_path)
    try:
        journal.journal(app)._recover()
    finally:
        _close(app)


def _close(app):
    with app.app_context():
        db.session.remove()
        reads.close(app)
        db.engine.dispose()


def _recorded(tmp_path):
    """(method, direction, decision, reason, device, at, details) of every event, oldest first."""
    app = _app(tmp_path)
    try:
        with app.app_context():
            rows = db.session.scalars(db.select(AccessEvent).order_by(AccessEvent.at)).all()
            return [(e.method, e.direction, e.decision, e.reason, e.device_id, e.at, e.details) for e in rows]
    finally:
        _close(app)


def _spool_files(tmp_path):
    return [name for _, _, files in os.walk(tmp_path / "journal") for name in files if name.startswith("spool-")]


def _outage_over(tmp_path):
    os.rename(tmp_path / "away", tmp_path / "db")


def _assert_each_once(tmp_path, worker):
    before, after = (datetime.fromisoformat(worker[k]) for k in ("before", "after"))
    found = _recorded(tmp_path)
    assert [(m, d, dec, r, dev) for m, d, dec, r, dev, _, _ in found] == [
        ("qr", None, "deny", "error", worker["device"]),
        ("code", None, "deny", "error", worker["device"]),
        ("plate", "in", "deny", "error", worker["device"]),
    ]  # the stranger's attempt is dropped: an unauthenticated caller never writes events
    assert all(before <= at <= after for *_, at, _ in found)  # the time of the attempt, not of the recovery
    assert all(details == {"error": "OperationalError", "spooled": True} for *_, details in found)


def test_attempts_spooled_by_a_killed_worker_are_recorded_once_when_the_database_is_back(tmp_path):
    (tmp_path / "db").mkdir()
    worker = _killed_worker(tmp_path)
    assert _spool_files(tmp_path)
    _recover(tmp_path)  # the outage goes on: the recovery fails and keeps everything
    assert _spool_files(tmp_path)
    _outage_over(tmp_path)
    assert _recorded(tmp_path) == []
    _recover(tmp_path)
    _assert_each_once(tmp_path, worker)
    _recover(tmp_path)
    _assert_each_once(tmp_path, worker)
    assert not any(files for _, _, files in os.walk(tmp_path / "journal"))


def test_a_batch_recorded_just_before_the_kill_is_not_recorded_twice(tmp_path):
    (tmp_path / "db").mkdir()

    # The database is back, the worker records its spool and is killed before it notes that it did.
    def before_kill(app):
        _outage_over(tmp_path)
        ahead.AheadLog.done = lambda self, last: None  # only in the killed worker's copy of the module
        spool.drain(app)

    worker = _killed_worker(tmp_path, before_kill)
    _assert_each_once(tmp_path, worker)
    _recover(tmp_path)
    _assert_each_once(tmp_path, worker)
    assert not _spool_files(tmp_path)


def _in_outage(tmp_path):
    """(app, device header): a worker in this process whose database has just become unreachable."""
    (tmp_path / "db").mkdir()
    app = _app(tmp_path)
    with app.app_context():
        db.create_all()
        _, header = World(app).device()
    _close(app)
    os.rename(tmp_path / "db", tmp_path / "away")
    return app, header


def _exits(app):
    """What its process's exit does to the worker's spool: its memory and its locks are gone, its files stay."""
    spool.spool(app).ahead.close(written_all=False)
    del app.extensions["gate_spool"]


def test_a_recovery_during_the_outage_keeps_the_attempts_and_two_at_once_record_them_once(tmp_path):
    app, header = _in_outage(tmp_path)
    client = app.test_client()
    for scan in ({"code": "00001000000"}, {"code": "00002000000"}):
        assert client.post(URL, json=scan, headers=header).get_json()["reason"] == "error"
    # The worker's own retry (its journal thread, every 10 s) while the outage goes on keeps them...
    assert spool.drain(app) == 0
    assert len(spool.spool(app).items) == 2
    # ...and so does another process's recovery after the worker exited.
    _exits(app)
    other = _app(tmp_path)
    ahead.recover_all(other)
    assert len(_spool_files(tmp_path)) == 1
    _outage_over(tmp_path)
    assert _recorded(tmp_path) == []
    # Two processes recover at once: the flock gives the dead worker's file to one of them.
    rivals = [_app(tmp_path) for _ in range(2)]
    threads = [threading.Thread(target=ahead.recover_all, args=(rival,)) for rival in rivals]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(method for method, *_ in _recorded(tmp_path)) == ["code", "code"]
    assert not _spool_files(tmp_path)
    for each in (app, other, *rivals):
        _close(each)


def test_a_full_spool_drops_its_oldest_attempts_from_the_file_too(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(spool, "LIMIT", 2)
    app, header = _in_outage(tmp_path)
    client = app.test_client()
    for scan in ({"qr": "not a pass"}, {"code": "00001000000"}, {"plate": "京A12345"}):
        assert client.post(URL, json=scan, headers=header).get_json()["reason"] == "error"
    assert "gate spool full: 1 attempts dropped" in caplog.text
    _exits(app)
    _outage_over(tmp_path)
    _recover(tmp_path)
    assert [method for method, *_ in _recorded(tmp_path)] == ["code", "plate"]
    _close(app)
