"""Writes of a gate decision: conditional updates that settle races, and the access event."""

import json
from functools import cache

from sqlalchemy import and_, bindparam, case, or_, update

from portal.core import wake
from portal.devices import api_tokens as device_tokens
from portal.events.journal import Entry, add_from_request, run_writes
from portal.events.operations import insert_events
from portal.extensions import db
from portal.gate import queries, writelock
from portal.passes.models import Pass
from portal.vehicles.models import Vehicle

_WROTE = "gate_wrote"


def _begin_write():
    """Writes run in the session's transaction (the reads before them did not; see portal.core.reads).

    The pooled connection is taken before the write lock: a thread holding the lock must never wait
    for the pool while the threads holding the pool's connections wait for the lock.
    """
    conn = db.session.connection()
    writelock.acquire()
    db.session.info[_WROTE] = True
    return conn


def consume(pass_id, direction):
    """Take one entry and note the direction in ONE conditional UPDATE; None, or why it failed.

    The WHERE clause repeats every counter rule (revoked, uses < max_entries, no "in" after
    "in"), so of many gates racing for the last entry exactly one updates a row: PostgreSQL
    re-checks the clause after the row lock, SQLite runs writers one at a time.
    """
    done = _begin_write().execute(_consume_statement(direction), {"pass_id": pass_id}).first()
    if done is None:
        return _why_not(pass_id, direction)
    if done.max_entries is not None and direction != "out":
        wake.note(db.session, "pass", pass_id, done.site_id)  # devices hold the remaining uses: the bridge re-plans this pass
    return None


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
        values["version"] = case(
            (and_(t.c.max_entries.isnot(None), t.c.uses + 1 >= t.c.max_entries), t.c.version + 1), else_=t.c.version
        )
    if direction == "in":
        conds.append(or_(t.c.last_direction.is_(None), t.c.last_direction != "in"))
    if direction is not None:
        values["last_direction"] = direction
    return update(t).where(*conds).values(**values).returning(t.c.id, t.c.max_entries, t.c.site_id)


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


def move_vehicle(vehicle_id, direction):
    """Note a resident's car through the lift in ONE conditional UPDATE (no "in" after "in"); None, or why not."""
    if _begin_write().execute(_vehicle_statement(direction), {"vehicle_id": vehicle_id}).rowcount == 1:
        return None
    t = Vehicle.__table__
    fresh = db.session.connection().execute(db.select(t.c.status).where(t.c.id == vehicle_id)).first()
    if fresh is None or fresh.status != "active":
        return "revoked"
    return "anti_passback"


@cache
def _vehicle_statement(direction):
    t = Vehicle.__table__
    conds = [t.c.id == bindparam("vehicle_id"), t.c.status == "active"]
    if direction == "in":
        conds.append(or_(t.c.last_direction.is_(None), t.c.last_direction != "in"))
    return update(t).where(*conds).values(last_direction=direction)


def advance_step(pass_id, step):
    """Accept a TOTP step once (RFC 6238 §5.2): True only for the request that moved it forward."""
    return _begin_write().execute(_advance_statement(), {"pass_id": pass_id, "step": step}).rowcount == 1


@cache
def _advance_statement():
    t = Pass.__table__
    return (
        update(t)
        .where(t.c.id == bindparam("pass_id"), t.c.otp_last_step < bindparam("step"))
        .values(otp_last_step=bindparam("step"))
    )


def wrote():
    """True when this decision wrote (took an entry or a keypad step): its event must commit with it."""
    # A decision that only read never made a session; asking the session would make one.
    return db.session.registry.has() and db.session.info.get(_WROTE, False)


def forget_writes():
    """Drop the write mark (after the commit or a rollback) and the SQLite write lock with it."""
    if db.session.registry.has():
        db.session.info.pop(_WROTE, None)
        writelock.release()


class _CountUses:
    """One use more per granted scan of an unlimited pass, written with the journal's batch.

    The whole batch is ONE statement (passes counted by id from an array, or SQLite's JSON array), not
    one UPDATE per scan: each of those cost its parameters' processing in Python, about a fifth of the
    journal's work per event on SQLite. Both count each id once (GROUP BY) and join the counts: a count
    per pass over the whole array (a correlated subquery) cost 37 µs per scan in a batch of 500 on
    SQLite, against 1.4.
    """

    PG_SQL = (
        "UPDATE passes SET uses = passes.uses + u.n FROM (SELECT id, count(*) AS n FROM unnest(%s::integer[]) AS id "
        "GROUP BY id) AS u WHERE passes.id = u.id"
    )
    SQLITE_SQL = (  # UPDATE ... FROM needs SQLite 3.33 (Python 3.11's own is 3.40 here)
        "UPDATE passes SET uses = passes.uses + u.n FROM (SELECT value AS id, count(*) AS n FROM json_each(?1) "
        "GROUP BY value) AS u WHERE passes.id = u.id"
    )

    def run_many(self, conn, rows):
        ids = [row["pass_id"] for row in rows]
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(self.PG_SQL, (ids,))
        else:
            conn.exec_driver_sql(self.SQLITE_SQL, (json.dumps(ids),))


COUNT_USE = _CountUses()


def record_attempt(device, method, outcome, direction, now, latency_ms):
    """The access event of one attempt (plus a desk alert when it started a burst of failures).

    A decision that wrote commits its event in the same transaction (the caller commits): an entry
    taken is never without its record. Any other goes to the event journal, written in a batch about
    EVENT_JOURNAL_MS later with the use count of an unlimited pass and the device token's last-use
    time (see portal.events.journal for the trade-off).
    """
    details = dict(outcome.details)
    burst = details.pop("burst_failures", None)
    common = dict(
        at=now,
        site_id=device.site_id,
        gate_id=device.gate_id,
        device_id=device.id,
        method=method,
        direction=direction,
        source="api",
        plate=outcome.plate,
    )
    events = [
        (
            dict(
                common,
                pass_id=outcome.pass_id,
                decision=outcome.decision,
                reason=outcome.reason,
                latency_ms=round(latency_ms, 3),
                details=details,
            ),
            outcome.pass_,
            None,
        )
    ]
    if burst is not None:
        events.append(
            (
                dict(
                    common,
                    pass_id=None,
                    decision="deny",
                    reason="throttled",
                    latency_ms=None,
                    details={"burst": True, "failures": burst},
                ),
                None,
                None,
            )
        )
    writes = [device_tokens.touch_write(device, now)] if device.touch_due else []
    if outcome.count_use:
        writes.append((COUNT_USE, {"pass_id": outcome.pass_id}))
    if not wrote():
        add_from_request(Entry(events, writes))
        return
    insert_events(events)
    conn = db.session.connection()
    for statement, params in writes:
        run_writes(conn, statement, [params])
