"""Writes of a gate decision: conditional updates that settle races, and the access event."""
from functools import cache

from sqlalchemy import and_, bindparam, case, or_, update

from portal.devices import tokens as device_tokens
from portal.events.operations import record_event
from portal.extensions import db
from portal.gate import queries, writelock
from portal.passes.models import Pass


def consume(pass_id, direction):
    """Take one entry and note the direction in ONE conditional UPDATE; None, or why it failed.

    The WHERE clause repeats every counter rule (revoked, uses < max_entries, no "in" after
    "in"), so of many gates racing for the last entry exactly one updates a row: PostgreSQL
    re-checks the clause after the row lock, SQLite runs writers one at a time.
    """
    writelock.acquire()
    result = db.session.execute(_consume_statement(direction), {"pass_id": pass_id})
    if result.rowcount == 1:
        return None
    return _why_not(pass_id, direction)


@cache
def _consume_statement(direction):
    # Core statements on the table, built once: no ORM bulk-update machinery on the hot path.
    t = Pass.__table__
    conds = [t.c.id == bindparam("pass_id"), t.c.status == "active"]
    values = {}
    if direction != "out":
        conds.append(or_(t.c.max_entries.is_(None), t.c.uses < t.c.max_entries))
        values["uses"] = t.c.uses + 1
        # The last entry changes what devices must hold, so the bridge's desired-state version moves.
        values["version"] = case((and_(t.c.max_entries.isnot(None), t.c.uses + 1 >= t.c.max_entries), t.c.version + 1),
                                 else_=t.c.version)
    if direction == "in":
        conds.append(or_(t.c.last_direction.is_(None), t.c.last_direction != "in"))
    if direction is not None:
        values["last_direction"] = direction
    return update(t).where(*conds).values(**values)


def _why_not(pass_id, direction):
    fresh = queries.pass_counters(pass_id)
    if fresh is None:
        return "unknown"
    if fresh.status != "active":
        return "revoked"
    if direction != "out" and fresh.max_entries is not None and fresh.uses >= fresh.max_entries:
        return "used_up"
    if direction == "in" and fresh.last_direction == "in":
        return "anti_passback"
    return "error"


def advance_step(pass_id, step):
    """Accept a TOTP step once (RFC 6238 §5.2): True only for the request that moved it forward."""
    writelock.acquire()
    return db.session.execute(_advance_statement(), {"pass_id": pass_id, "step": step}).rowcount == 1


@cache
def _advance_statement():
    t = Pass.__table__
    return update(t).where(t.c.id == bindparam("pass_id"), t.c.otp_last_step < bindparam("step")).values(
        otp_last_step=bindparam("step"))


def record_attempt(device, method, outcome, direction, now, latency_ms):
    """The access event for one attempt, plus a desk alert when it started a burst of failures.

    Only ids are handed over: the pass, its unit and the gate were loaded by the decision's
    one select, so hooks reading event.pass_ or event.gate find them in the session's
    identity map without another query, and the flush has no relationships to cascade.
    """
    writelock.acquire()
    device_tokens.touch(device, now)
    details = dict(outcome.details)
    burst = details.pop("burst_failures", None)
    common = dict(at=now, site_id=device.site_id, gate_id=device.gate_id, device_id=device.id, method=method,
                  direction=direction, source="api", plate=outcome.plate)
    event = record_event(pass_id=outcome.pass_id, decision=outcome.decision, reason=outcome.reason,
                         latency_ms=round(latency_ms, 3), details=details, **common)
    if burst is not None:
        record_event(pass_id=None, decision="deny", reason="throttled", latency_ms=None,
                     details={"burst": True, "failures": burst}, **common)
    return event
