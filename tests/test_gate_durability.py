"""Which gate decisions commit their event before answering, and which hand it to the event journal."""

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import each_database
from gate_support import events, oathtool_code, verify
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from portal.core import crypto, reads
from portal.core.timeutil import utcnow
from portal.events import journal
from portal.extensions import db
from portal.gate import cache as decision_cache
from portal.passes import codes, keys
from portal.passes.models import Pass
from portal.watchlist.models import WatchlistEntry

ROOT = Path(__file__).resolve().parent.parent


def _statements(app, call):
    """(result of call, SQL statements the engine ran on this thread meanwhile).

    The request's own: the event journal's writer and the decision cache's warming run on threads of their own.
    """
    seen, here = [], threading.get_ident()

    def listener(conn, cursor, statement, params, context, executemany):
        # Not the signing keys' reload: the key set reloads itself every 30 s, whenever that falls.
        if threading.get_ident() == here and "signing_keys" not in statement:
            seen.append(statement.split()[0].upper())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        return call(), seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _committed_events(url, pass_id, options=None):
    """Events of a pass as another connection sees them (committed rows only)."""
    engine = create_engine(url, **(options or {}))
    try:
        with engine.connect() as conn:
            return (
                conn.execute(text("SELECT reason FROM access_events WHERE pass_id = :p ORDER BY id"), {"p": pass_id})
                .scalars()
                .all()
            )
    finally:
        engine.dispose()


def _check_split(app, world):
    url, options = app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS")
    client = app.test_client()
    _, header = world.device("reader")
    unlimited = world.make_pass(max_entries=None)
    single = world.make_pass(max_entries=1)

    # A grant on an unlimited pass without direction takes nothing: no statement through the pool at all
    # (its one read, the token and the pass together, runs on the thread's read connection).
    text_ = codes.qr_text(unlimited)
    keys.public_keys()  # cached for 30 s; a cold cache would add its one select
    data, seen = _statements(app, lambda: verify(client, header, qr=text_)[1])
    assert data["decision"] == "grant" and seen == []
    data, seen = _statements(app, lambda: verify(client, header, qr="garbage")[1])
    assert data["reason"] == "bad_signature" and seen == []

    # Taking a limited entry commits its event with the entry, before the answer.
    data, seen = _statements(app, lambda: verify(client, header, qr=codes.qr_text(single))[1])
    assert data["decision"] == "grant" and "INSERT" in seen and "UPDATE" in seen
    assert _committed_events(url, single.id, options) == ["ok"]
    coded = world.make_pass(max_entries=None)
    assert verify(client, header, code=oathtool_code(coded))[1]["decision"] == "grant"
    assert _committed_events(url, coded.id, options) == ["ok"]

    # The journal's thread writes the rest within moments, with the unlimited pass's use counted.
    deadline = time.monotonic() + 5
    while _committed_events(url, unlimited.id, options) != ["ok"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _committed_events(url, unlimited.id, options) == ["ok"]
    db.session.expire_all()
    assert db.session.get(Pass, unlimited.id).uses == 1


@each_database
def test_guarding_decisions_commit_first_others_are_journaled(app, world):
    _check_split(app, world)


def _traced_scans(app, client, header, text_, times):
    """The SQL statements each of times scans of text_ ran on this thread's read connection."""
    raw = reads.readers(app).local.conn.connection.dbapi_connection
    found = []
    for _ in range(times):
        traced = []
        raw.set_trace_callback(traced.append)
        try:
            assert verify(client, header, qr=text_)[1]["decision"] == "grant"
        finally:
            raw.set_trace_callback(None)
        found.append(traced)
    return found


def test_a_qr_grant_is_one_select_and_a_rescan_only_reads_the_change_counter(app, world, client):
    _, header = world.device("reader")
    assert verify(client, header, qr=codes.qr_text(world.make_pass(max_entries=None)))[1]["decision"] == "grant"
    cache = decision_cache.for_app(app)
    deadline = time.monotonic() + 5
    while not cache.idle() and time.monotonic() < deadline:  # the site's warming, done before the new pass exists
        time.sleep(0.01)
    first, again = _traced_scans(app, client, header, codes.qr_text(world.make_pass(max_entries=None)), 2)
    joint = [sql for sql in first if "api_tokens" in sql]
    assert len(first) == 2 and len(joint) == 1 and "passes" in joint[0]
    assert len(again) == 1 and "gate_cache_epoch" in again[0]


def test_journal_keeps_rows_while_the_database_refuses(app, world, client, monkeypatch):
    _, header = world.device("reader")
    p = world.make_pass(max_entries=None)
    book = journal.journal(app)
    real = journal._write

    def refused(*args):
        raise OperationalError("INSERT INTO access_events", {}, Exception("could not connect"))

    monkeypatch.setattr(journal, "_write", refused)
    assert verify(client, header, qr=codes.qr_text(p))[1]["decision"] == "grant"
    with pytest.raises(OperationalError):
        book.flush()
    assert book.pending() == 1
    monkeypatch.setattr(journal, "_write", real)
    assert [(e.pass_id, e.reason) for e in events()] == [(p.id, "ok")]
    assert book.pending() == 0


def test_the_journal_of_the_current_app_proxy_is_the_apps_and_its_thread_writes_outside_any_context(app, world):
    """journal(current_app) once gave a journal holding the proxy: its writer thread failed on its first look."""
    from flask import current_app

    from portal.events.journal import Entry

    with app.app_context():
        book = journal.journal(current_app)
        assert book is journal.journal(app) and book.app is app
    gate_id = world.gate.id
    book.add(Entry([(dict(site_id=world.site.id, gate_id=gate_id, method="qr", decision="deny", reason="unknown"), None, None)]))
    deadline = time.monotonic() + 5
    while book.pending() and time.monotonic() < deadline:  # written by the thread, with no context pushed here
        time.sleep(0.02)
    assert book.pending() == 0
    assert [(e.gate_id, e.reason) for e in events()] == [(gate_id, "unknown")]


def test_a_stopping_worker_writes_its_journal(tmp_path):
    """A process that exits normally (gunicorn's graceful stop) leaves no decision unrecorded."""
    db_path = tmp_path / "exit.db"
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
        from conftest import World
        from portal.app import create_app
        from portal.config import TestConfig
        from portal.extensions import db
        from portal.passes import codes
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite:///{db_path}", SERVER_NAME="portal.test",
                         EVENT_JOURNAL_MS=60_000)
        with app.app_context():
            db.create_all()
            world = World(app)
            _, header = world.device("reader")
            p = world.make_pass(max_entries=None)
            data = app.test_client().post("/api/v1/gate/verify", json={{"qr": codes.qr_text(p)}}, headers=header).get_json()
            assert data["decision"] == "grant"
            print(p.id)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    pass_id = int(out.stdout.split()[-1])
    assert _committed_events(f"sqlite:///{db_path}", pass_id) == ["ok"]


def test_the_request_thread_writes_a_due_batch_once_its_response_is_sent(app, world, client, monkeypatch):
    """Under traffic no second thread competes with the request thread: it writes the batch between requests."""
    monkeypatch.setattr(journal.Journal, "_start", lambda self: None)  # no writer thread at all
    book = journal.journal(app)
    book.interval = 0.0  # every batch is due at once
    _, header = world.device("reader")
    p = world.make_pass(max_entries=None)
    with client.post("/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers=header) as resp:
        assert resp.get_json()["decision"] == "grant"
        assert book.pending() == 1  # still queued while the response is open
    assert book.pending() == 0
    assert _committed_events(app.config["SQLALCHEMY_DATABASE_URI"], p.id) == ["ok"]


def test_after_a_response_one_batch_is_written_and_the_rest_stays_due(app, world, client, monkeypatch):
    """A backlog (say after an outage) costs each reader's worker one batch between requests, never all of it."""
    monkeypatch.setattr(journal.Journal, "_start", lambda self: None)  # no writer thread at all
    monkeypatch.setattr(journal, "REQUEST_BATCH", 4)
    book = journal.journal(app)
    book.interval = 3600.0  # nothing is due while the backlog builds up
    _, header = world.device("reader")
    p = world.make_pass(max_entries=None)
    for _ in range(9):
        assert verify(client, header, qr=codes.qr_text(p))[1]["decision"] == "grant"
    assert book.pending() == 9
    book.interval = 0.0
    left = []
    for _ in range(3):
        with client.post("/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers=header):
            pass  # the batch is written once the response is closed (sent)
        left.append(book.pending())
    assert left == [6, 3, 0]  # 10 queued, 4 written; 7 queued, 4 written; 4 queued, all written
    assert _committed_events(app.config["SQLALCHEMY_DATABASE_URI"], p.id) == ["ok"] * 12


def _check_batch(app, world, monkeypatch):
    """Many queued decisions become one batch: each event in its own row, each pass's uses counted once per grant."""
    monkeypatch.setattr(journal.Journal, "_start", lambda self: None)  # nothing writes until flushed here
    book = journal.journal(app)
    book.interval = 3600.0
    client = app.test_client()
    _, header = world.device("reader")
    a, b, c = (world.make_pass(max_entries=None) for _ in range(3))
    sequence = [a, b, a, c, a, b]
    started = utcnow()
    for p in sequence:
        assert verify(client, header, qr=codes.qr_text(p))[1]["decision"] == "grant"
    assert verify(client, header, qr="garbage")[1]["reason"] == "bad_signature"
    # Non-ASCII text and details travel through the batch too.
    _, barrier = world.device("barrier-1", kind="barrier", gates=[world.car_gate])
    assert verify(client, barrier, plate="沪ｂ 99999")[1]["reason"] == "unknown"
    listed = world.make_pass(visitor_phone="+8613812345678")
    entry = WatchlistEntry(
        site_id=world.site.id,
        kind="person",
        active=True,
        hint="138****5678",
        phone_idx=crypto.blind_index("phone", "+8613812345678"),
    )
    db.session.add(entry)
    db.session.commit()
    assert verify(client, header, qr=codes.qr_text(listed))[1]["reason"] == "watchlisted"
    assert book.pending() == len(sequence) + 3
    book.flush()
    written = [(e.pass_id, e.decision, e.reason, e.method, e.plate, e.details) for e in events()]
    assert written == [(p.id, "grant", "ok", "qr", None, {}) for p in sequence] + [
        (None, "deny", "bad_signature", "qr", None, {}),
        (None, "deny", "unknown", "plate", "沪B99999", {}),
        (listed.id, "deny", "watchlisted", "qr", None, {"watchlist_entry_id": entry.id}),
    ]
    assert all(e.latency_ms is not None for e in events())
    times = [e.at for e in events()]  # the decisions' own times, as aware UTC, in order
    assert times == sorted(times) and started <= times[0] and times[-1] <= utcnow()
    db.session.expire_all()
    assert [db.session.get(Pass, p.id).uses for p in (a, b, c)] == [3, 2, 1]


@each_database
def test_a_journal_batch_writes_every_event_and_counts_uses(app, world, monkeypatch):
    _check_batch(app, world, monkeypatch)
