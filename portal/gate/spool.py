"""Attempts the gate could not even attribute to a device (the token lookup failed), kept until it can.

(docs/gate.md, "Failing closed", says why.) Each attempt is written ahead like the event journal's
entries (portal.events.ahead, kind "spool"), so a worker killed during the outage loses none: another
process of the same database records them once the devices can be read.
"""

import collections
import dataclasses
import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from flask import current_app

from portal.core.timeutil import utcnow
from portal.events import ahead
from portal.extensions import db

log = logging.getLogger(__name__)
LIMIT = 50_000  # the oldest go first beyond this (counted in the log)
BATCH = 500  # attempts recorded per transaction; a verify that finds attempts spooled records one batch
# After a batch could not be recorded, verifies leave the spool alone this long: a database that answers
# reads but refuses writes must not cost every scan a failed write.
RETRY_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One unattributed attempt."""

    token_hash: str
    method: str
    direction: str | None
    at: object
    latency_ms: float
    error: str
    seq: int = field(default=0, compare=False)  # its entry in the write-ahead file (0: not written ahead)

    def fields(self):
        """The attempt as written ahead."""
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in dataclasses.fields(Attempt) if f.name != "seq")


class Spool:
    """One app's spooled attempts in this process; the deque holds exactly those not yet settled, oldest first."""

    def __init__(self, app):
        self.app = app
        self.pid = os.getpid()
        self.items = collections.deque()
        self.lock = threading.Lock()
        self.draining = threading.Lock()
        self.dropped = 0
        self.ahead = None
        self.retry_at = 0.0  # monotonic time before which verifies do not try to record

    def keep(self, attempt):
        with self.lock:
            if len(self.items) >= LIMIT:
                self._settled(self.items.popleft().seq)  # settled by giving it up: a recovery must not record it either
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.error("gate spool full: %d attempts dropped", self.dropped)
            self.items.append(self._write_ahead(attempt))

    def _write_ahead(self, attempt):
        # Under the lock: file order is deque order, so what is settled is always a prefix of the file.
        if self.ahead is None:
            self.ahead = ahead.open_log(self.app, "spool")
            if self.ahead is None:
                return attempt
        fields = attempt.fields()
        try:
            return Attempt(**fields, seq=self.ahead.append([fields]))
        except OSError as exc:  # a full disk must not fail a gate decision
            log.error("gate spool: write-ahead failed (%s)", type(exc).__name__)
            return attempt

    def oldest(self):
        """The oldest attempts, at most a batch, noted in the file as about to be recorded."""
        with self.lock:
            batch = list(itertools.islice(self.items, BATCH))
            if self.ahead is not None and batch and batch[0].seq and batch[-1].seq:
                self._note("begin", batch[0].seq, batch[-1].seq)
            return batch

    def recorded(self, batch):
        """The batch is in the table: off the deque and settled in the file (a full spool may have dropped some already)."""
        mine, last = set(map(id, batch)), 0
        with self.lock:
            while self.items and id(self.items[0]) in mine:
                last = max(last, self.items.popleft().seq)
            self._settled(last)

    def _settled(self, seq):
        # Under the lock, for the oldest attempts: everything up to seq in the file is settled.
        if self.ahead is not None and seq:
            self._note("done", seq)

    def _note(self, what, *seqs):
        # A note that cannot be written costs at worst a batch recorded twice after a kill.
        try:
            getattr(self.ahead, what)(*seqs)
        except OSError as exc:
            log.error("gate spool: write-ahead note failed (%s)", type(exc).__name__)


def spool(app=None):
    """The app's spool in this process (a forked worker starts with an empty one)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("gate_spool")
    if found is None or found.pid != os.getpid():
        found = app.extensions["gate_spool"] = Spool(app)
    return found


def keep(token_hash, method, direction, started, error):
    """Spool one attempt of the current app (its time is now)."""
    spool().keep(Attempt(token_hash, method, direction, utcnow(), round((time.perf_counter() - started) * 1000.0, 3), error))


def hand_over():
    """In a request that authenticated (the database answers again): record a batch of what the spool holds, if anything.

    Synchronous, once after an outage (a batch a request, the journal's writer thread does the rest
    every 10 s): the journal's after-response hook is not enough, since a test client or a quiet gate
    may never close a response.
    """
    book = spool()
    if book.items and time.monotonic() >= book.retry_at:
        drain(current_app._get_current_object(), batches=1)


def drain(app, batches=None):
    """Record the spooled attempts (all, or so many batches); returns how many; kept if the database refuses."""
    book = spool(app)
    total = 0
    for _ in itertools.repeat(None) if batches is None else range(batches):
        with book.draining:  # a batch at a time: a request waits at most for the batch another thread records
            batch = book.oldest()
            if not batch:
                break
            try:
                total += record(app, batch)
            except Exception as exc:
                book.retry_at = time.monotonic() + RETRY_SECONDS
                log.warning("gate spool: %d attempts wait, devices unreadable (%s)", len(book.items), type(exc).__name__)
                break
            book.recorded(batch)
    return total


def recover(app):
    """This process's own spool, then what killed workers of the same database spooled (the journal's thread, every 10 s)."""
    drain(app)
    ahead.recover(app, "spool", lambda items: record(app, [Attempt(**i) for i in items]), lambda items: _committed(app, items))


def record(app, attempts):
    """Write the events of the attempts whose token was valid at the time, in one transaction; returns how many.

    Raises, writing nothing, while the devices cannot be read. An attempt whose token names no usable
    device is dropped (counted in the log): an unauthenticated caller never writes events.
    """
    from portal.events.journal import Entry, write_retrying

    events = _events(app, attempts)
    if events:
        write_retrying(app, [Entry([(fields, None, None) for fields in events])])
    log.warning(
        "gate spool: %d attempts from the outage recorded, %d without a valid device token dropped",
        len(events),
        len(attempts) - len(events),
    )
    return len(events)


def _committed(app, items):
    """Whether a batch noted as begun is in the table (it is one transaction: its first event tells)."""
    from portal.events.journal import committed

    events = _events(app, [Attempt(**i) for i in items])
    return not events or committed(app, events[0])


def _events(app, attempts):
    """The event fields of the attempts whose token was valid at the time (one select)."""
    from portal.devices.api_tokens import devices_by_hash

    with app.app_context():
        try:
            found = devices_by_hash({a.token_hash for a in attempts})
        finally:
            db.session.remove()
    events = []
    for a in attempts:
        device = found.get(a.token_hash)
        if device is not None and device.valid_at(a.at):
            events.append(
                dict(
                    at=a.at,
                    site_id=device.site_id,
                    gate_id=device.gate_id,
                    device_id=device.id,
                    method=a.method,
                    direction=a.direction,
                    source="api",
                    plate=None,
                    pass_id=None,
                    decision="deny",
                    reason="error",
                    latency_ms=a.latency_ms,
                    details={"error": a.error, "spooled": True},
                )
            )
    return events
