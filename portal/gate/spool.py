"""Attempts the gate could not even attribute to a device (the token lookup failed), kept until it can.

(docs/gate.md, "Failing closed", says why.)
"""

import collections
import logging
import os
import threading
import time
from dataclasses import dataclass

from flask import current_app

from portal.core.timeutil import utcnow
from portal.extensions import db

log = logging.getLogger(__name__)
LIMIT = 50_000  # the oldest go first beyond this (counted in the log)


@dataclass(frozen=True)
class Attempt:
    """One unattributed attempt."""

    token_hash: str
    method: str
    direction: str | None
    at: object
    latency_ms: float
    error: str


class Spool:
    """One app's spooled attempts in this process."""

    def __init__(self):
        self.pid = os.getpid()
        self.items = collections.deque()
        self.lock = threading.Lock()
        self.draining = threading.Lock()
        self.dropped = 0

    def keep(self, attempt):
        with self.lock:
            if len(self.items) >= LIMIT:
                self.items.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.error("gate spool full: %d attempts dropped", self.dropped)
            self.items.append(attempt)

    def take(self):
        with self.lock:
            batch = list(self.items)
            self.items.clear()
        return batch

    def put_back(self, batch):
        with self.lock:
            self.items.extendleft(reversed(batch))


def spool(app=None):
    """The app's spool in this process (a forked worker starts with an empty one)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("gate_spool")
    if found is None or found.pid != os.getpid():
        found = app.extensions["gate_spool"] = Spool()
    return found


def keep(token_hash, method, direction, started, error):
    """Spool one attempt of the current app (its time is now)."""
    spool().keep(Attempt(token_hash, method, direction, utcnow(), round((time.perf_counter() - started) * 1000.0, 3), error))


def hand_over():
    """In a request that authenticated (the database answers again): resolve what the spool holds, if anything.

    Synchronous, one select, once after an outage: the journal's after-response hook is not enough,
    since a test client or a quiet gate may never close a response.
    """
    if spool().items:
        drain(current_app._get_current_object())


def drain(app):
    """Resolve every spooled attempt and queue its event in the journal; kept if the database refuses."""
    from portal.devices.api_tokens import devices_by_hash
    from portal.events.journal import Entry, journal

    book = spool(app)
    if not book.draining.acquire(blocking=False):
        return 0
    try:
        batch = book.take()
        if not batch:
            return 0
        try:
            with app.app_context():
                try:
                    found = devices_by_hash({a.token_hash for a in batch})
                finally:
                    db.session.remove()
        except Exception as exc:
            book.put_back(batch)
            log.warning("gate spool: %d attempts wait, devices unreadable (%s)", len(batch), type(exc).__name__)
            return 0
        events, recorded = journal(app), 0
        for a in batch:
            device = found.get(a.token_hash)
            if device is None or not device.valid_at(a.at):
                continue
            events.add(
                Entry(
                    [
                        (
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
                            ),
                            None,
                            None,
                        )
                    ]
                )
            )
            recorded += 1
        log.warning(
            "gate spool: %d attempts from the outage recorded, %d without a valid device token dropped",
            recorded,
            len(batch) - recorded,
        )
        return recorded
    finally:
        book.draining.release()
