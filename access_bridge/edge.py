"""Decisions at the edge: gates keep deciding from the bridge's local store when the portal is away.

(docs/edge.md, "Deciding", says how online, offline and sync() differ.)
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import cast

from limits import parse_many, storage, strategies
from sqlalchemy import case, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import CursorResult

from access_bridge.edge_store import EdgeStore, pass_rec, snapshot
from portal.core import wake
from portal.gate import rules
from portal.passes import codes, compact, qrtext

log = logging.getLogger(__name__)
# Errors that mean "the portal's database is not there", as opposed to a bug.
LINK_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
CODE_FAILURES = ("unknown", "replayed")


class Deny(Exception):
    """A refusal with its reason code (and the pass, when known)."""

    def __init__(self, reason, rec=None):
        super().__init__(reason)
        self.reason = reason
        self.rec = rec


def _utc(ts):
    return datetime.fromtimestamp(ts, UTC)


class Link:
    """Whether the portal's database answered lately; shared by the deciders of one store."""

    def __init__(self, retry_seconds=5.0):
        self.retry_seconds = retry_seconds
        self.down_until = 0.0


class EdgeDecider:
    """Decides at one bridge from its EdgeStore, consuming uses online when it can."""

    def __init__(self, app, store: EdgeStore, device_id=None, site_ids=None, retry_seconds=5.0, clock=time.time, link=None):
        self.app = app
        self.store = store
        self.device_id = device_id
        self.site_ids = set(site_ids) if site_ids else None
        self.link = link or Link(retry_seconds)
        self.clock = clock
        self._lock = threading.RLock()
        cfg = app.config
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._gate_limits = parse_many(cfg.get("GATE_CODE_DEVICE_LIMIT", "10/minute;60/hour"))
        self._pass_limits = parse_many(cfg.get("GATE_CODE_PASS_LIMIT", "5/10minutes;20/day"))

    # -- link state -----------------------------------------------------------
    @property
    def online(self):
        """False for a few seconds after the portal's database failed us."""
        return time.monotonic() >= self.link.down_until

    def _link_failed(self, exc):
        if self.online:
            log.warning("portal database unreachable, deciding locally: %s", type(exc).__name__)
        self.link.down_until = time.monotonic() + self.link.retry_seconds

    # -- the decision -----------------------------------------------------------
    def decide(self, kind, data, gate_id, direction=None):
        """(grant, reason, pass_id) for a scanned token or a typed code at a gate."""
        started = time.perf_counter()
        method = "code" if kind in ("code", "keys") else "qr"
        direction = direction if direction in ("in", "out") else None
        now = self.clock()
        try:
            with self._lock:
                try:
                    rec, step = self._identify(method, data, gate_id, now)
                    self._check(rec, gate_id, direction, now)
                    return self._grant(rec, gate_id, method, direction, step, now, started)
                except Deny as deny:
                    return self._refuse(deny, gate_id, method, direction, now, started)
        except Exception:
            log.exception("edge decision failed at gate %r; denied", gate_id)
            return False, "error", None

    def _identify(self, method, data, gate_id, now):
        site_id = self.store.gates.get(gate_id)
        if site_id is None:
            raise Deny("wrong_gate")
        if method == "code":
            return self._keypad(data, gate_id, site_id, now)
        try:
            if compact.looks_compact(data):
                claims = compact.verify_compact(data, self._secret, now, expected_site=site_id)
            else:
                text = bytes(data).decode("ascii") if isinstance(data, (bytes, bytearray, memoryview)) else data
                claims = qrtext.verify(text, self.store.keys, now, expected_site=site_id)
        except (qrtext.TokenError, UnicodeDecodeError) as err:
            raise Deny(getattr(err, "reason", "bad_signature")) from None
        rec = self._pass(claims.pass_id)
        if rec is None:
            raise Deny("unknown")
        return rec, None

    def _keypad(self, data, gate_id, site_id, now):
        entry = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
        if self._blocked(self._gate_limits, "gate", gate_id):
            raise Deny("throttled")
        entry = rules.keypad_digits(entry)
        if entry is None:
            raise Deny("unknown")
        number, otp = entry[: codes.KEYPAD_NO_DIGITS], entry[codes.KEYPAD_NO_DIGITS :]
        rec = self._pass_by_keypad(site_id, number)
        if rec is None:
            raise Deny("unknown")
        if self._blocked(self._pass_limits, "pass", rec.id):
            raise Deny("throttled", rec)
        step = rules.matching_step(rec.otp_secret, otp, now)
        if step is None:
            raise Deny("unknown", rec)
        if step <= rec.otp_last_step:
            raise Deny("replayed", rec)
        return rec, step

    def _blocked(self, limits, *key):
        return any(not self._limiter.test(lim, *map(str, key)) for lim in limits)

    def _check(self, rec, gate_id, direction, now):
        """The gate API's rules in its order (portal.gate.rules.precheck), on the edge's copy of the pass.

        An exit is never refused for schedule, use count or passback: nobody is trapped inside.
        """
        if rec.site_id != self.store.gates.get(gate_id):
            raise Deny("wrong_site", rec)
        if rec.status == "awaiting_approval":
            raise Deny("not_approved", rec)
        if rec.status != "active":
            raise Deny("revoked", rec)
        if rec.watch_hit is not None:
            raise Deny("watchlisted", rec)
        if now >= rec.valid_until:
            raise Deny("expired", rec)
        if now < rec.valid_from:
            raise Deny("not_yet_valid", rec)
        if rec.gate_ids and gate_id not in rec.gate_ids:
            raise Deny("wrong_gate", rec)
        if direction == "out":
            return
        if rec.schedule and not rules.in_schedule(rec.schedule, rec.timezone, _utc(now)):
            raise Deny("outside_schedule", rec)
        if rec.max_entries is not None and rec.used >= rec.max_entries:
            raise Deny("used_up", rec)
        if direction == "in" and rec.last_direction == "in":
            raise Deny("anti_passback", rec)

    def _grant(self, rec, gate_id, method, direction, step, now, started):
        consumed = 0 if direction == "out" else 1
        if self.online:
            try:
                return self._grant_online(rec, gate_id, method, direction, step, consumed, now, started)
            except LINK_ERRORS as exc:
                self._link_failed(exc)
        self.store.journal(now, rec, rec.site_id, gate_id, self.device_id, method, "grant", "ok", direction, step, consumed)
        return True, "ok", rec.id

    def _refuse(self, deny, gate_id, method, direction, now, started):
        rec = deny.rec
        if method == "code" and deny.reason in CODE_FAILURES:
            for lim in self._gate_limits:
                self._limiter.hit(lim, "gate", str(gate_id))
            if rec is not None:
                for lim in self._pass_limits:
                    self._limiter.hit(lim, "pass", str(rec.id))
        log.info("edge deny gate=%r method=%s reason=%s pass=%r", gate_id, method, deny.reason, rec.id if rec else None)
        site_id = self.store.gates.get(gate_id)
        if self.online:
            try:
                with self.app.app_context():
                    self._record(now, rec, site_id, gate_id, method, "deny", deny.reason, direction, started)
                return False, deny.reason, rec.id if rec else None
            except LINK_ERRORS as exc:
                self._link_failed(exc)
        self.store.journal(now, rec, site_id, gate_id, self.device_id, method, "deny", deny.reason, direction)
        return False, deny.reason, rec.id if rec else None

    # -- the portal's database ------------------------------------------------------
    def _grant_online(self, rec, gate_id, method, direction, step, consumed, now, started):
        from portal.extensions import db
        from portal.passes.models import Pass

        with self.app.app_context():
            from portal.watchlist import matching

            conds = [Pass.id == rec.id, Pass.status == "active", Pass.valid_from <= _utc(now), Pass.valid_until > _utc(now)]
            values = {}
            if consumed:
                conds.append(or_(Pass.max_entries.is_(None), Pass.uses < Pass.max_entries))
                values["uses"] = Pass.uses + 1
                # Spending the last entry changes what devices should hold.
                values["version"] = case((Pass.uses + 1 >= Pass.max_entries, Pass.version + 1), else_=Pass.version)
            if direction == "in":
                conds.append(or_(Pass.last_direction.is_(None), Pass.last_direction != "in"))
            if direction:
                values["last_direction"] = direction
            if direction != "out":
                conds.append(matching.pass_hit_subquery().is_(None))  # listed since the last snapshot
            if step:
                conds.append(Pass.otp_last_step < step)
                values["otp_last_step"] = step
            result = db.session.execute(update(Pass).where(*conds).values(**values).execution_options(synchronize_session=False))
            done = cast(CursorResult, result).rowcount == 1
            if done and consumed:
                wake.note(db.session, "pass", rec.id, rec.site_id)  # the remaining uses on devices change
            if not done:
                # Someone else spent it, or it changed since the snapshot: re-read and say why.
                db.session.rollback()
                fresh = db.session.execute(select(Pass, matching.pass_hit_subquery()).where(Pass.id == rec.id)).first()
                reason = "unknown"
                if fresh is not None:
                    self.store.put_pass(pass_rec(*fresh))
                    reason = self._reason_for(self.store.passes[rec.id], gate_id, direction, step) or "used_up"
                self._record(now, rec, rec.site_id, gate_id, method, "deny", reason, direction, started)
                return False, reason, rec.id
            self._record(now, rec, rec.site_id, gate_id, method, "grant", "ok", direction, started)
        self.store.note_online_use(rec, direction, step, consumed)
        return True, "ok", rec.id

    def _reason_for(self, rec, gate_id, direction, step):
        try:
            self._check(rec, gate_id, direction, self.clock())
        except Deny as deny:
            return deny.reason
        return "replayed" if step and step <= rec.otp_last_step else None

    def _record(self, now, rec, site_id, gate_id, method, decision, reason, direction, started, **details):
        """Write one AccessEvent and commit (inside an app context)."""
        from portal.events.operations import record_event
        from portal.extensions import db

        try:
            record_event(
                at=_utc(now),
                site_id=site_id,
                gate_id=gate_id,
                device_id=self.device_id,
                method=method,
                pass_id=rec.id if rec else None,
                decision=decision,
                reason=reason,
                direction=direction,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                source="bridge",
                details={"edge": self.store.store_id, **details},
            )
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise

    def _secret(self, pass_id):
        rec = self._pass(pass_id)
        return (rec.site_id, rec.otp_secret) if rec is not None else None

    def _pass(self, pass_id):
        rec = self.store.passes.get(pass_id)
        if rec is None and self.online:
            rec = self._fetch(lambda Pass: Pass.id == pass_id)
        return rec

    def _pass_by_keypad(self, site_id, number):
        pid = self.store.by_keypad.get((site_id, number))
        if pid is not None:
            return self.store.passes.get(pid)
        if not self.online:
            return None
        return self._fetch(
            lambda Pass: (Pass.site_id == site_id) & (Pass.keypad_no == number) & (Pass.valid_until > _utc(self.clock()))
        )

    def _fetch(self, where):
        """A pass created after the last snapshot, fetched on demand."""
        from portal.extensions import db
        from portal.passes.models import Pass

        try:
            with self.app.app_context():
                from portal.watchlist.matching import pass_hit_subquery

                row = db.session.execute(
                    select(Pass, pass_hit_subquery()).where(where(Pass)).order_by(Pass.id.desc()).limit(1)
                ).first()
                rec = pass_rec(*row) if row is not None else None
        except LINK_ERRORS as exc:
            self._link_failed(exc)
            return None
        if rec is not None and (self.site_ids is None or rec.site_id in self.site_ids):
            self.store.put_pass(rec)
            return rec
        return None

    # -- keeping in step with the portal ------------------------------------------
    def sync(self):
        """Report the journal, then refresh the snapshot; True when the portal answered."""
        from access_bridge.ingest import report_journal

        try:
            report_journal(self.app, self.store)
            keys, gates, passes = snapshot(self.app, self.site_ids, self.clock())
        except LINK_ERRORS as exc:
            self._link_failed(exc)
            return False
        self.store.replace_snapshot(keys, gates, passes, self.clock())
        self.link.down_until = 0.0
        return True
