"""Writes of a gate decision: conditional updates that settle races, and the access event."""
from functools import cache

from sqlalchemy import and_, bindparam, case, or_, update

from portal.devices import tokens as device_tokens
from portal.events.operations import insert_event
from portal.extensions import db
from portal.gate import queries, writelock
from portal.passes.models import Pass

_DURABLE = "gate_durable_write"


def consume(pass_id, direction):
    """Take one entry and note the direction in ONE conditional UPDATE; None, or why it failed.

    The WHERE clause repeats every counter rule (revoked, uses < max_entries, no "in" after
    "in"), so of many gates racing for the last entry exactly one updates a row: PostgreSQL
    re-checks the clause after the row lock, SQLite runs writers one at a time.
    """
    writelock.acquire()
    taken = db.session.execute(_consume_statement(direction), {"pass_id": pass_id}).first()
    if taken is not None:
        # A use limit or a direction means later decisions read what this one wrote (see relax_commit).
        if taken.max_entries is not None or direction is not None:
            db.session.info[_DURABLE] = True
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
    return update(t).where(*conds).values(**values).returning(t.c.max_entries)


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
    if db.session.execute(_advance_statement(), {"pass_id": pass_id, "step": step}).rowcount != 1:
        return False
    db.session.info[_DURABLE] = True  # the replay guard must survive a crash
    return True


@cache
def _advance_statement():
    t = Pass.__table__
    return update(t).where(t.c.id == bindparam("pass_id"), t.c.otp_last_step < bindparam("step")).values(
        otp_last_step=bindparam("step"))


def forget_writes():
    """Drop the durable-write mark after a rollback."""
    db.session.info.pop(_DURABLE, None)


def record_attempt(device, method, outcome, direction, now, latency_ms):
    """The access event for one attempt, plus a desk alert when it started a burst of failures.

    One Core INSERT each (no ORM unit of work). The pass, its unit and the gate loaded by the
    decision's select ride along for the hooks, so the desk's live board needs no more queries.
    """
    writelock.acquire()
    device_tokens.touch(device, now)
    # On PostgreSQL a decision that guards nothing commits without waiting for the WAL fsync: denials
    # and grants of unlimited passes without direction change nothing a later decision reads, so an
    # OS crash can lose at most the last fraction of a second of their event rows, never allow a double
    # admission. Taking a limited entry, moving anti-passback or accepting a TOTP step stays synchronous.
    synchronous = db.session.info.pop(_DURABLE, False)
    details = dict(outcome.details)
    burst = details.pop("burst_failures", None)
    common = dict(at=now, site_id=device.site_id, gate_id=device.gate_id, device_id=device.id, method=method,
                  direction=direction, source="api", plate=outcome.plate)
    event = insert_event(pass_=outcome.pass_, gate=outcome.gate, synchronous=synchronous, pass_id=outcome.pass_id,
                         decision=outcome.decision, reason=outcome.reason, latency_ms=round(latency_ms, 3),
                         details=details, **common)
    if burst is not None:
        insert_event(gate=outcome.gate, synchronous=synchronous, pass_id=None, decision="deny", reason="throttled",
                     latency_ms=None, details={"burst": True, "failures": burst}, **common)
    return event
