"""Recording access events; other features subscribe to react in the same transaction."""

import json
from datetime import datetime
from functools import cache

from sqlalchemy import JSON

from portal.core.timeutil import utcnow
from portal.events.models import AccessEvent
from portal.extensions import db

# Called as hook(event) after the row is flushed, inside the same transaction
# (the desk turns denials into exceptions here). Keep hooks quick and database-only.
_hooks = []
# Called as listener(event_ids) after a successful commit (live feed fan-out).
_after_commit = []
# session.info key: ids of the events the session's transaction inserted, in order.
NEW_EVENTS = "new_access_events"


def on_event(fn):
    """Register a hook run for each new event, in the writer's transaction."""
    if fn not in _hooks:
        _hooks.append(fn)
    return fn


def after_commit(fn):
    """Register a listener told of new event ids once they are committed."""
    if fn not in _after_commit:
        _after_commit.append(fn)
    return fn


def record_event(**fields):
    """Insert an access event and run the hooks; the caller's commit makes it final."""
    event = AccessEvent(**fields)
    db.session.add(event)
    db.session.flush()
    for hook in _hooks:
        hook(event)
    pending = db.session.info.setdefault(NEW_EVENTS, [])
    pending.append(event.id)
    return event


class NewEvent:
    """A just-inserted access event as hooks read it: the row's columns, plus pass_ and gate.

    pass_ and gate are the objects the writer already holds; when it holds none they are looked
    up like the ORM relationship would (identity map first), so hooks behave as with AccessEvent.
    """

    def __init__(self, event_id, fields, pass_=None, gate=None, gates=None):
        self.__dict__.update(fields)
        self.id = event_id
        self._pass, self._gate, self._gates = pass_, gate, gates

    @property
    def pass_(self):
        if self._pass is None and self.pass_id is not None:
            from portal.passes.models import Pass

            self._pass = db.session.get(Pass, self.pass_id)
        return self._pass

    @property
    def gate(self):
        if self._gate is None and self.gate_id is not None:
            if self._gates is not None:
                self._gate = self._gates.get(self.gate_id)
            else:
                from portal.sites.models import Gate

                self._gate = db.session.get(Gate, self.gate_id)
        return self._gate


class _BatchGates:
    """The gates a batch's hooks may name, read in one select the first time one is asked for."""

    def __init__(self, ids):
        self.ids, self.found = ids, None

    def get(self, gate_id):
        if self.found is None:
            from portal.sites.models import Gate

            ids = self.ids - {None}
            self.found = {g.id: g for g in db.session.scalars(db.select(Gate).where(Gate.id.in_(ids)))} if ids else {}
        return self.found.get(gate_id)


_COLUMNS = tuple(c.name for c in AccessEvent.__table__.columns if c.name != "id")


@cache
def _insert_statement():
    t = AccessEvent.__table__
    # sort_by_parameter_order: the ids come back in the order of the rows, also for a multi-row insert.
    return t.insert().returning(t.c.id, sort_by_parameter_order=True)


class _JsonBatch:
    """Many events in ONE INSERT ... SELECT from one JSON text, the new ids in row order.

    One statement text whatever the batch size (prepared once per connection), one parameter, one
    round trip and one executor run: per row the server only parses its JSON object and inserts the
    tuple, where SQLAlchemy's multi-row insert processed every row's parameters in Python. The rows
    travel as one JSON document because the C encoder writes it in one call. PostgreSQL reads it with
    json_to_recordset, SQLite with json_each; both insert in the array's order, and the ids, assigned in
    that order (a sequence; SQLite's rowid under the writer's lock), sorted line up with the rows (as
    SQLAlchemy's insertmanyvalues relies on).
    """

    def __init__(self, dialect):
        t = AccessEvent.__table__
        types = [t.c[name].type.dialect_impl(dialect) for name in _COLUMNS]
        # JSON columns go in as JSON values; the others as their bound values (datetimes in ISO form).
        procs = [
            (name, None if isinstance(t.c[name].type, JSON) else typ.bind_processor(dialect))
            for name, typ in zip(_COLUMNS, types, strict=True)
        ]
        self.converted = [(name, proc) for name, proc in procs if proc is not None]
        names = ", ".join(_COLUMNS)
        if dialect.name == "postgresql":
            compile_type = dialect.type_compiler_instance.process
            defs = ", ".join(f"{name} {compile_type(typ)}" for name, typ in zip(_COLUMNS, types, strict=True))
            self.sql = (
                f"INSERT INTO {t.name} ({names}) SELECT {names} FROM ROWS FROM "  # noqa: S608 - schema names only
                f"(json_to_recordset(%s::json) AS ({defs})) WITH ORDINALITY AS u({names}, ord) ORDER BY ord RETURNING id"
            )
        else:
            # json_extract gives a JSON column its text (objects, arrays) and every other column its plain value.
            values = ", ".join(f"json_extract(value, '$.{name}')" for name in _COLUMNS)
            self.sql = (
                f"INSERT INTO {t.name} ({names}) SELECT {values} FROM json_each(?) "  # noqa: S608 - schema names only
                f"ORDER BY key RETURNING id"
            )

    def insert(self, conn, rows):
        """The new ids, in the order of rows (each row holds exactly the _COLUMNS)."""
        bound = []
        converted = self.converted
        for row in rows:
            values = dict(row)
            for name, proc in converted:  # two columns of about twenty have a bind processor
                values[name] = proc(values[name])
            bound.append(values)
        doc = json.dumps(bound, ensure_ascii=False, separators=(",", ":"), default=_iso)
        return sorted(conn.exec_driver_sql(self.sql, (doc,)).scalars().all())


def _iso(value):
    """JSON for the bound values the encoder does not know: datetimes (naive UTC, as bound)."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@cache
def _json_batch(dialect):
    return _JsonBatch(dialect)


def insert_events(entries):
    """record_event for hot paths: one Core INSERT for many (fields, pass_, gate) entries, same hooks.

    No unit-of-work flush and no ORM objects: the rows go straight to the session's connection.
    Returns NewEvents, not session objects; callers that attach events to ORM objects use record_event.
    """
    rows = []
    for fields, _, _ in entries:
        row = dict.fromkeys(_COLUMNS)
        row.update(at=utcnow(), source="api", details={})
        row.update(fields)
        rows.append(row)
    conn = db.session.connection()
    if len(rows) > 1:
        ids = _json_batch(conn.dialect).insert(conn, rows)
    else:
        ids = conn.execute(_insert_statement(), rows).scalars().all()
    # A get per event cost more than the insert; often no hook asks at all (grants, no open desk).
    gates = _BatchGates({row["gate_id"] for row in rows})
    events = [
        NewEvent(event_id, row, pass_, gate, gates) for event_id, row, (_, pass_, gate) in zip(ids, rows, entries, strict=True)
    ]
    pending = db.session.info.setdefault(NEW_EVENTS, [])
    for event in events:
        for hook in _hooks:
            hook(event)
        pending.append(event.id)
    return events


def _publish(session):
    ids = session.info.pop(NEW_EVENTS, None)
    if ids:
        for fn in _after_commit:
            try:
                fn(ids)
            except Exception:  # a broken live feed must never break a gate decision
                import logging

                logging.getLogger(__name__).exception("access-event listener failed")


def _discard(session):
    session.info.pop(NEW_EVENTS, None)


def install(session_factory):
    """Wire commit/rollback of a session class to the after-commit listeners."""
    from sqlalchemy import event as sa_event

    sa_event.listen(session_factory, "after_commit", _publish)
    sa_event.listen(session_factory, "after_soft_rollback", lambda s, prev: _discard(s))
