"""Writes of a gate decision: conditional updates that settle races, and the access event."""
from sqlalchemy import and_, case, or_, update

from portal.events.operations import record_event
from portal.extensions import db
from portal.gate import queries
from portal.passes.models import Pass


def consume(pass_id, direction):
    """Take one entry and note the direction in ONE conditional UPDATE; None, or why it failed.

    The WHERE clause repeats every counter rule (revoked, uses < max_entries, no "in" after
    "in"), so of many gates racing for the last entry exactly one updates a row: PostgreSQL
    re-checks the clause after the row lock, SQLite runs writers one at a time.
    """
    conds = [Pass.id == pass_id, Pass.status == "active"]
    values = {}
    if direction != "out":
        conds.append(or_(Pass.max_entries.is_(None), Pass.uses < Pass.max_entries))
        values["uses"] = Pass.uses + 1
        # The last entry changes what devices must hold, so the bridge's desired-state version moves.
        values["version"] = case((and_(Pass.max_entries.isnot(None), Pass.uses + 1 >= Pass.max_entries), Pass.version + 1),
                                 else_=Pass.version)
    if direction == "in":
        conds.append(or_(Pass.last_direction.is_(None), Pass.last_direction != "in"))
    if direction is not None:
        values["last_direction"] = direction
    result = db.session.execute(update(Pass).where(*conds).values(**values),
                                execution_options={"synchronize_session": False})
    if result.rowcount == 1:
        return None
    return _why_not(pass_id, direction)


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
    result = db.session.execute(
        update(Pass).where(Pass.id == pass_id, Pass.otp_last_step < step).values(otp_last_step=step),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount == 1


def record_attempt(device, method, outcome, direction, now, latency_ms):
    """The access event for one attempt, plus a desk alert when it started a burst of failures.

    The pass and gate objects already loaded are handed over, so hooks reading event.pass_
    or event.gate (the desk's live board) cost no further queries.
    """
    details = dict(outcome.details)
    burst = details.pop("burst_failures", None)
    common = dict(at=now, site_id=device.site_id, device_id=device.id, method=method, direction=direction,
                  source="api", plate=outcome.plate)
    common |= {"gate": outcome.gate} if outcome.gate is not None else {"gate_id": device.gate_id}
    who = {"pass_": outcome.pass_} if outcome.pass_ is not None else {"pass_id": None}
    event = record_event(decision=outcome.decision, reason=outcome.reason, latency_ms=round(latency_ms, 3),
                         details=details, **who, **common)
    if burst is not None:
        record_event(pass_id=None, decision="deny", reason="throttled", latency_ms=None,
                     details={"burst": True, "failures": burst}, **common)
    return event
