"""Access events that guard nothing, queued per worker process and written in batches.

(docs/events.md says why, what a batch holds and what it trades away.)
"""

import atexit
import collections
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from flask import after_this_request, current_app, g, has_request_context
from sqlalchemy.exc import DBAPIError
from werkzeug.local import LocalProxy

from portal.events import ahead
from portal.extensions import db

log = logging.getLogger(__name__)
BATCH = 500
# After one response a request thread writes at most this many entries: the next reader that worker serves
# waits behind one batch (about 4 ms on SQLite), never behind a backlog. The rest is written after the
# next responses, or by the writer thread.
REQUEST_BATCH = 128
# After a failed write, wait this long (doubling up to the cap) before trying again.
RETRY_SECONDS, RETRY_CAP_SECONDS = 0.5, 10.0
# How often the writer thread looks for the write-ahead files of killed workers of the same database.
RECOVER_SECONDS = 10.0
_PROBE = ("at", "device_id", "method", "decision", "reason", "latency_ms", "pass_id")


@dataclass
class Entry:
    """One decision's events, each (fields, pass view, gate view), and the writes that go with them."""

    events: list
    writes: list = field(default_factory=list)  # (Core statement or object with run_many, params): counters that may lag
    seq: int = 0  # its line in the write-ahead file (0: not written ahead)


class Journal:
    """The queue (and quiet-time writer thread) of one app in one process."""

    def __init__(self, app):
        self.app = app
        self.interval = app.config.get("EVENT_JOURNAL_MS", 100) / 1000.0
        self.limit = app.config.get("EVENT_JOURNAL_MAX", 50_000)
        self._reset()

    def _reset(self):
        # Called again in a forked child: the parent's thread and locks do not exist there.
        self._pid = os.getpid()
        self._items = collections.deque()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._since = None  # when the oldest queued entry arrived (monotonic)
        self._failed_until = 0.0  # after a failed write, request threads leave retrying to the thread
        self.dropped = 0
        self._ahead = None
        self._recovered_at = float("-inf")

    def add(self, entry):
        """Queue one decision's events; the writer thread is started on first use in each process."""
        if self._pid != os.getpid():
            self._reset()
        with self._lock:
            if len(self._items) >= self.limit:
                self._items.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.error("event journal full: %d access events dropped", self.dropped)
            self._write_ahead(entry)
            self._items.append(entry)
            if self._since is None:
                self._since = time.monotonic()
            if self._thread is None:
                self._start()

    def _write_ahead(self, entry):
        # Under the lock: file order is queue order, so the batches written are always a prefix of the file.
        if self._ahead is None:
            self._ahead = ahead.open_log(self.app, "journal")
            if self._ahead is None:
                return
        try:
            entry.seq = self._ahead.append([fields for fields, _, _ in entry.events])
        except OSError as exc:  # a full disk must not fail a gate decision
            log.error("event journal: write-ahead failed (%s)", type(exc).__name__)

    def pending(self):
        """How many decisions wait to be written."""
        return len(self._items)

    def _start(self):
        self._thread = threading.Thread(target=self._run, name="event-journal", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def due(self, age):
        """True when entries have waited at least age seconds."""
        since = self._since
        return since is not None and time.monotonic() - since >= age

    def flush_if_due(self):
        """Called after a response went out: write the batch when it is EVENT_JOURNAL_MS old.

        Under traffic the request threads write the batches between requests, so the writer
        thread below stays asleep: a second busy thread in every worker would fight the request
        thread for the GIL on each database call and burn the CPU in context switches.
        """
        if not self.due(self.interval) or time.monotonic() < self._failed_until:
            return
        if not self._flushing.acquire(blocking=False):
            return  # another thread is writing right now
        try:
            self._flush_locked(most=REQUEST_BATCH)
        except Exception as exc:
            self._failed_until = time.monotonic() + RETRY_CAP_SECONDS
            log.error("event journal write failed (%s); %d waiting", type(exc).__name__, self.pending())
        finally:
            self._flushing.release()

    def _run(self):
        # The safety net for quiet times: writes what no request thread wrote within two intervals.
        wait = tick = max(self.interval, 0.01)  # EVENT_JOURNAL_MS=0 must not spin
        self._recover()
        while not self._stop.wait(wait):
            if time.monotonic() - self._recovered_at >= RECOVER_SECONDS:
                self._recover()
            if not self.due(2 * self.interval):
                continue
            try:
                self.flush()
                wait, self._failed_until = tick, 0.0
            except Exception as exc:
                self._failed_until = time.monotonic() + RETRY_CAP_SECONDS
                wait = min(max(wait * 2, RETRY_SECONDS), RETRY_CAP_SECONDS)
                log.error(
                    "event journal write failed (%s); %d waiting, retry in %.1f s", type(exc).__name__, self.pending(), wait
                )

    def flush(self):
        """Write everything queued now, in this thread; raises (rows kept) if the database refuses."""
        with self._flushing:
            self._flush_locked()

    def _flush_locked(self, most=None):
        """Write batches until the queue is empty, or only one batch of at most `most` entries."""
        while True:
            with self._lock:
                batch = [self._items.popleft() for _ in range(min(most or BATCH, len(self._items)))]
                if not self._items:
                    self._since = None
                elif most is None:
                    self._since = time.monotonic()
                # else: what one batch left behind stays due, for the next response (or the writer thread)
                noted = bool(batch) and batch[0].seq > 0 and batch[-1].seq > 0
                if noted:
                    self._note("begin", batch[0].seq, batch[-1].seq)
            if not batch:
                return
            try:
                write_retrying(self.app, batch)
            except BaseException:
                with self._lock:
                    self._items.extendleft(reversed(batch))
                    self._since = time.monotonic() - self.interval  # still due
                raise
            if noted:
                with self._lock:
                    self._note("done", batch[-1].seq)
            if most is not None:
                return

    def _note(self, what, *seqs):
        # Under the lock. A note that cannot be written costs at worst a batch written twice after a kill.
        try:
            if self._ahead is not None:
                getattr(self._ahead, what)(*seqs)
        except OSError as exc:
            log.error("event journal: write-ahead note failed (%s)", type(exc).__name__)

    def _recover(self):
        """Write what killed workers of this database left in their write-ahead files (never raises)."""
        self._recovered_at = time.monotonic()
        ahead.recover_all(self.app)

    def stop(self):
        """Stop the thread and write what is left (at exit, and when an app is torn down)."""
        self._stop.set()
        atexit.unregister(self.stop)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._pid == os.getpid():
            try:
                self.flush()
            except Exception as exc:
                log.error("event journal: %d decisions not written at exit (%s)", self.pending(), type(exc).__name__)
            with self._lock:
                if self._ahead is not None:
                    self._ahead.close(written_all=not self._items)
                    self._ahead = None


def add_from_request(entry, app=None):
    """Queue an entry; in a request, the batch is written after the response when it is due."""
    book = journal(app)
    book.add(entry)
    if has_request_context() and not g.get("_journal_flush_hooked"):
        g._journal_flush_hooked = True

        @after_this_request
        def _flush_after_response(response):
            # call_on_close runs once the server has sent the response: the reader is not kept waiting.
            response.call_on_close(book.flush_if_due)
            return response


def recover(app):
    """Write the events dead journals of app's database left in their write-ahead files."""

    def write(items):
        write_retrying(app, [Entry([(fields, None, None) for fields in items])])
        return len(items)

    ahead.recover(app, "journal", write, lambda items: not items or committed(app, items[0]))


def committed(app, fields):
    """Whether an event with exactly these fields is in the table (its batch committed before a kill)."""
    from portal.events.models import AccessEvent as E

    with app.app_context():
        try:
            same = [getattr(E, k) == v for k, v in fields.items() if k in _PROBE and v is not None]
            return db.session.scalar(db.select(E.id).where(*same).limit(1)) is not None
        finally:
            db.session.remove()


def write_retrying(app, batch):
    """_write, once more on a fresh connection when the server dropped the pooled one (a restart)."""
    try:
        _write(app, batch)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        _write(app, batch)


def _write(app, batch):
    """One transaction: the events with their hooks, then the grouped follow-up writes."""
    from portal.events.operations import insert_events
    from portal.gate import writelock

    with app.app_context():
        try:
            conn = db.session.connection()  # the connection before the lock, as the gate's writers do
            writelock.acquire()  # SQLite: queue with the gate's writers instead of sleeping on "locked"
            insert_events([ev for entry in batch for ev in entry.events])
            grouped = {}
            for entry in batch:
                for statement, params in entry.writes:
                    grouped.setdefault(statement, []).append(params)
            for statement, rows in grouped.items():
                run_writes(conn, statement, rows)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def run_writes(conn, statement, rows):
    """Run a write for many parameter sets: a Core statement as executemany, or an object's run_many."""
    run_many = getattr(statement, "run_many", None)
    if run_many is not None:
        run_many(conn, rows)
    else:
        conn.execute(statement, rows)


def stop(app):
    """Write out and stop the app's journal, if it was used."""
    found = app.extensions.get("event_journal")
    if found is not None:
        found.stop()


def journal(app=None):
    """The app's (default: the current app's) journal in this process."""
    # Never the current_app proxy itself: the writer thread keeps the app and runs outside any app context.
    app = current_app._get_current_object() if app is None or isinstance(app, LocalProxy) else app
    found = app.extensions.get("event_journal")
    if found is None:
        found = app.extensions["event_journal"] = Journal(app)
    return found
