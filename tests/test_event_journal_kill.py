"""A worker killed with SIGKILL loses none of the access events its journal had queued (portal.events.ahead)."""

import os

from conftest import World
from sqlalchemy import create_engine, text
from support import killed_worker

from portal.app import create_app
from portal.config import TestConfig
from portal.events import ahead, journal
from portal.extensions import db
from portal.passes import codes


def _killed_worker(db_path, journal_dir, before_kill=None):
    """Run a worker that answers two decisions (a grant, a denial), then is SIGKILLed; returns the pass id."""
    # Made here (it opens nothing yet), so this process imports the features once, not both.
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}", SERVER_NAME="portal.test",
                     EVENT_JOURNAL_MS=60_000, EVENT_JOURNAL_DIR=str(journal_dir))  # fmt: skip

    def work():
        with app.app_context():
            db.create_all()
            world = World(app)
            _, header = world.device("reader")
            p = world.make_pass(max_entries=None)
            client = app.test_client()
            for qr in (codes.qr_text(p), "not a pass"):
                client.post("/api/v1/gate/verify", json={"qr": qr}, headers=header).get_json()
            if before_kill:
                before_kill(app)
            return p.id

    return killed_worker(work)


def _reasons(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT reason FROM access_events ORDER BY reason")).scalars().all()
    finally:
        engine.dispose()


def _recover(url, journal_dir):
    """What a worker started after the kill does first: write the dead journal's events."""
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, EVENT_JOURNAL_DIR=str(journal_dir))
    try:
        journal.journal(app)._recover()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_events_queued_by_a_killed_worker_are_written_once_by_the_next(tmp_path):
    url, journal_dir = f"sqlite:///{tmp_path / 'kill.db'}", tmp_path / "journal"
    _killed_worker(tmp_path / "kill.db", journal_dir)
    assert _reasons(url) == []  # the kill came before the batch was due
    _recover(url, journal_dir)
    assert _reasons(url) == ["bad_signature", "ok"]
    _recover(url, journal_dir)
    assert _reasons(url) == ["bad_signature", "ok"]
    assert not any(files for _, _, files in os.walk(journal_dir))


def test_a_batch_that_committed_just_before_the_kill_is_not_written_twice(tmp_path):
    url, journal_dir = f"sqlite:///{tmp_path / 'kill.db'}", tmp_path / "journal"

    # Killed between the batch's commit and the note that it committed.
    def before_kill(app):
        ahead.AheadLog.done = lambda self, last: None  # only in the killed worker's copy of the module
        journal.journal(app).flush()

    _killed_worker(tmp_path / "kill.db", journal_dir, before_kill)
    assert _reasons(url) == ["bad_signature", "ok"]
    _recover(url, journal_dir)
    assert _reasons(url) == ["bad_signature", "ok"]


def test_a_living_worker_keeps_its_own_file(tmp_path):
    """Another journal of the same database never takes the events of a worker that is still running."""
    url, journal_dir = f"sqlite:///{tmp_path / 'live.db'}", tmp_path / "journal"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, EVENT_JOURNAL_DIR=str(journal_dir), EVENT_JOURNAL_MS=60_000)
    try:
        with app.app_context():
            db.create_all()
        book = journal.journal(app)
        book._start = lambda: None  # no writer thread: the entry stays queued
        book.add(journal.Entry([(_event_fields(), None, None)]))
        _recover(url, journal_dir)
        assert _reasons(url) == []
        book.flush()
        assert _reasons(url) == ["ok"]
    finally:
        journal.stop(app)
        with app.app_context():
            db.engine.dispose()
    assert not any(files for _, _, files in os.walk(journal_dir))


def _event_fields():
    from portal.core.timeutil import utcnow

    return dict(at=utcnow(), site_id=1, gate_id=None, device_id=1, method="qr", direction=None, source="api", plate=None,
                pass_id=1, decision="grant", reason="ok", latency_ms=1.5, details={})  # fmt: skip
