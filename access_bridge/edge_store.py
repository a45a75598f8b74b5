"""The bridge's local store: what gates need to decide while the portal or its database is down.

(docs/edge.md, "The edge store", says why.)
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from portal.core import crypto
from portal.passes.qrtext import load_public

KEEP_REPORTED_SECONDS = 7 * 86400  # reported journal rows are kept a week for diagnosis

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (kid INTEGER PRIMARY KEY, site_id INTEGER NOT NULL, public_key BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS gates (id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS passes (
  id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL, valid_from REAL NOT NULL, valid_until REAL NOT NULL,
  timezone TEXT NOT NULL, schedule TEXT, gate_ids TEXT NOT NULL, max_entries INTEGER, uses INTEGER NOT NULL,
  status TEXT NOT NULL, otp_secret BLOB NOT NULL, keypad_no TEXT NOT NULL, otp_last_step INTEGER NOT NULL,
  last_direction TEXT, version INTEGER NOT NULL, watch_hit INTEGER);
CREATE TABLE IF NOT EXISTS journal (
  id INTEGER PRIMARY KEY, at REAL NOT NULL, pass_id INTEGER, site_id INTEGER, gate_id INTEGER, device_id INTEGER,
  method TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL, direction TEXT, otp_step INTEGER,
  consumed INTEGER NOT NULL DEFAULT 0);
"""


@dataclass(slots=True)
class PassRec:
    """A pass as the edge sees it; uses = the portal's count, pending = own unreported grants."""

    id: int
    site_id: int
    valid_from: float
    valid_until: float
    timezone: str
    schedule: dict | None
    gate_ids: frozenset
    max_entries: int | None
    uses: int
    status: str
    otp_secret: str
    keypad_no: str
    otp_last_step: int = 0
    last_direction: str | None = None
    version: int = 1
    watch_hit: int | None = None  # the watchlist entry the visitor or plate matches
    pending: int = field(default=0)

    @property
    def used(self):
        """Entries made, as far as this edge knows."""
        return self.uses + self.pending


@dataclass(slots=True)
class JournalRow:
    """A decision made while the portal was unreachable, waiting to be reported."""

    id: int
    at: float
    pass_id: int | None
    site_id: int | None
    gate_id: int | None
    device_id: int | None
    method: str
    decision: str
    reason: str
    direction: str | None
    otp_step: int | None
    consumed: bool


class EdgeStore:
    """SQLite-backed, memory-cached snapshot plus the offline journal."""

    def __init__(self, path):
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA locking_mode=EXCLUSIVE")  # one owner: the bridge process
        self._db.executescript(_SCHEMA)
        self.lock = threading.RLock()
        self.store_id = self._meta("store_id") or self._set_meta("store_id", uuid.uuid4().hex[:16])
        self.keys: dict = {}
        self.gates: dict[int, int] = {}
        self.passes: dict[int, PassRec] = {}
        self.by_keypad: dict[tuple[int, str], int] = {}
        self._load()

    # -- meta -----------------------------------------------------------------
    def _meta(self, k):
        row = self._db.execute("SELECT v FROM meta WHERE k = ?", (k,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, k, v):
        self._db.execute("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", (k, str(v)))
        return str(v)

    def _reported_upto(self):
        return int(self._meta("reported_upto") or 0)

    @property
    def refreshed_at(self) -> float | None:
        """Unix time of the last snapshot from the portal's database."""
        value = self._meta("refreshed_at")
        return float(value) if value else None

    # -- loading --------------------------------------------------------------
    def _load(self):
        db = self._db
        self.keys = {kid: (site, load_public(pub)) for kid, site, pub in db.execute("SELECT kid, site_id, public_key FROM keys")}
        self.gates = dict(db.execute("SELECT id, site_id FROM gates"))
        passes = {}
        for row in db.execute(
            "SELECT id, site_id, valid_from, valid_until, timezone, schedule, gate_ids, max_entries, uses, "
            "status, otp_secret, keypad_no, otp_last_step, last_direction, version, watch_hit FROM passes"
        ):
            passes[row[0]] = PassRec(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                json.loads(row[5]) if row[5] else None,
                frozenset(json.loads(row[6])),
                row[7],
                row[8],
                row[9],
                crypto.decrypt(row[10]).decode(),
                row[11],
                row[12],
                row[13],
                row[14],
                row[15],
            )
        # Unreported offline decisions still count, also after a restart.
        for pid, consumed, step, direction in db.execute(
            "SELECT pass_id, consumed, otp_step, direction FROM journal WHERE id > ? AND decision = 'grant' ORDER BY id",
            (self._reported_upto(),),
        ):
            rec = passes.get(pid)
            if rec is not None:
                rec.pending += consumed
                rec.otp_last_step = max(rec.otp_last_step, step or 0)
                rec.last_direction = direction or rec.last_direction
        self.passes = passes
        self.by_keypad = {(r.site_id, r.keypad_no): r.id for r in passes.values()}

    # -- snapshot from the portal -----------------------------------------------
    def replace_snapshot(self, keys, gates, passes, now_ts):
        """Swap in a fresh snapshot: keys [(kid, site, raw)], gates [(id, site)], passes [PassRec]."""
        with self.lock:
            old = self.passes
            db = self._db
            db.execute("BEGIN")
            try:
                db.execute("DELETE FROM keys")
                db.executemany("INSERT INTO keys (kid, site_id, public_key) VALUES (?, ?, ?)", keys)
                db.execute("DELETE FROM gates")
                db.executemany("INSERT INTO gates (id, site_id) VALUES (?, ?)", gates)
                db.execute("DELETE FROM passes")
                fresh = {}
                for rec in passes:
                    prev = old.get(rec.id)
                    if prev is not None:
                        # Steps and directions seen here but not yet reported must not be forgotten.
                        rec.pending = prev.pending
                        rec.otp_last_step = max(rec.otp_last_step, prev.otp_last_step)
                        if prev.pending:
                            rec.last_direction = prev.last_direction or rec.last_direction
                    fresh[rec.id] = rec
                    self._write_pass(rec)
                self._set_meta("refreshed_at", now_ts)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self.keys = {kid: (site, load_public(raw)) for kid, site, raw in keys}
            self.gates = dict(gates)
            self.passes = fresh
            self.by_keypad = {(r.site_id, r.keypad_no): r.id for r in fresh.values()}

    def put_pass(self, rec: PassRec):
        """Add or replace one pass (fetched on demand or re-read after a refused consumption)."""
        with self.lock:
            prev = self.passes.get(rec.id)
            if prev is not None:
                rec.pending = prev.pending
            self._write_pass(rec)
            self.passes[rec.id] = rec
            self.by_keypad[(rec.site_id, rec.keypad_no)] = rec.id

    def _write_pass(self, r: PassRec):
        self._db.execute(
            "INSERT OR REPLACE INTO passes (id, site_id, valid_from, valid_until, timezone, schedule, gate_ids, max_entries,"
            " uses, status, otp_secret, keypad_no, otp_last_step, last_direction, version, watch_hit)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                r.id,
                r.site_id,
                r.valid_from,
                r.valid_until,
                r.timezone,
                json.dumps(r.schedule) if r.schedule else None,
                json.dumps(sorted(r.gate_ids)),
                r.max_entries,
                r.uses,
                r.status,
                crypto.encrypt(r.otp_secret.encode()),
                r.keypad_no,
                r.otp_last_step,
                r.last_direction,
                r.version,
                r.watch_hit,
            ),
        )

    def note_online_use(self, rec: PassRec, direction, otp_step, consumed):
        """The portal counted a use: keep the local copy in step, on disk too (a restart offline must see it)."""
        with self.lock:
            rec.uses += consumed
            rec.last_direction = direction or rec.last_direction
            rec.otp_last_step = max(rec.otp_last_step, otp_step or 0)
            self._db.execute(
                "UPDATE passes SET uses = ?, last_direction = ?, otp_last_step = ? WHERE id = ?",
                (rec.uses, rec.last_direction, rec.otp_last_step, rec.id),
            )

    # -- the offline journal ----------------------------------------------------
    def journal(self, at, rec, site_id, gate_id, device_id, method, decision, reason, direction=None, otp_step=None, consumed=0):
        """Record a decision made offline; a grant also counts against the pass at once."""
        with self.lock:
            self._db.execute(
                "INSERT INTO journal (at, pass_id, site_id, gate_id, device_id, method, decision, reason, direction, otp_step,"
                " consumed) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    at,
                    rec.id if rec else None,
                    site_id,
                    gate_id,
                    device_id,
                    method,
                    decision,
                    reason,
                    direction,
                    otp_step,
                    consumed,
                ),
            )
            if rec is not None and decision == "grant":
                rec.pending += consumed
                rec.last_direction = direction or rec.last_direction
                if otp_step:
                    rec.otp_last_step = max(rec.otp_last_step, otp_step)

    def pending(self, limit=500) -> list[JournalRow]:
        """Unreported journal rows, oldest first."""
        with self.lock:
            rows = self._db.execute(
                "SELECT id, at, pass_id, site_id, gate_id, device_id, method, decision, reason, direction, otp_step, consumed"
                " FROM journal WHERE id > ? ORDER BY id LIMIT ?",
                (self._reported_upto(), limit),
            ).fetchall()
        return [JournalRow(*r[:11], bool(r[11])) for r in rows]  # type: ignore[call-arg]  # the 11 columns, in order

    def mark_reported(self, rows: list[JournalRow]):
        """The portal has these rows: the pass counts move from pending to uses, on disk and in memory."""
        with self.lock:
            db = self._db
            db.execute("BEGIN")
            try:
                if rows:
                    upto = max(r.id for r in rows)
                    self._set_meta("reported_upto", upto)
                    db.execute("DELETE FROM journal WHERE id < ? AND at < ?", (upto, rows[-1].at - KEEP_REPORTED_SECONDS))
                for r in rows:
                    rec = self.passes.get(r.pass_id) if r.pass_id is not None else None
                    if rec is not None and r.decision == "grant" and r.consumed:
                        rec.pending = max(0, rec.pending - 1)
                        rec.uses += 1
                        db.execute("UPDATE passes SET uses = ? WHERE id = ?", (rec.uses, rec.id))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def uid(self, row: JournalRow) -> str:
        """A journal row's id across all edge stores (idempotent reporting)."""
        return f"{self.store_id}-{row.id}"

    def close(self):
        """Close the file."""
        self._db.close()


# -- reading the portal's database (inside an app context of the bridge) --------------------
def pass_rec(p, watch_hit=None) -> PassRec:
    """The edge's view of a Pass row (and of its watchlist hit)."""
    return PassRec(
        p.id,
        p.site_id,
        p.valid_from.timestamp(),
        p.valid_until.timestamp(),
        p.timezone,
        p.schedule,
        frozenset(p.gate_ids or ()),
        p.max_entries,
        p.uses,
        p.status,
        p.otp_secret,
        p.keypad_no,
        p.otp_last_step or 0,
        p.last_direction,
        p.version,
        watch_hit,
    )


def snapshot(app, site_ids, now_ts):
    """Keys, gates and every unexpired pass (revoked ones too) from the portal's database."""
    from portal.extensions import db
    from portal.passes.models import Pass, SigningKey
    from portal.sites.models import Gate
    from portal.watchlist.matching import pass_hit_subquery

    with app.app_context():
        kq = select(SigningKey.id, SigningKey.site_id, SigningKey.public_key).where(SigningKey.status.in_(("active", "verify")))
        gq = select(Gate.id, Gate.site_id)
        pq = select(Pass, pass_hit_subquery()).where(Pass.valid_until > datetime.fromtimestamp(now_ts, UTC))
        if site_ids:
            kq, gq, pq = (
                kq.where(SigningKey.site_id.in_(site_ids)),
                gq.where(Gate.site_id.in_(site_ids)),
                pq.where(Pass.site_id.in_(site_ids)),
            )
        keys = [(kid, site, bytes(raw)) for kid, site, raw in db.session.execute(kq)]
        gates = [tuple(row) for row in db.session.execute(gq)]
        passes = [pass_rec(p, hit) for p, hit in db.session.execute(pq)]
    return keys, gates, passes
