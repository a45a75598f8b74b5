"""Recording access events; other features subscribe to react in the same transaction."""
from functools import cache

from sqlalchemy import func

from portal.core.timeutil import utcnow
from portal.events.models import AccessEvent
from portal.extensions import db

# Called as hook(event) after the row is flushed, inside the same transaction
# (the desk turns denials into exceptions here). Keep hooks quick and database-only.
_hooks = []
# Called as listener(event_ids) after a successful commit (live feed fan-out).
_after_commit = []


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
    pending = db.session.info.setdefault("new_access_events", [])
    pending.append(event.id)
    return event


class NewEvent:
    """A just-inserted access event as hooks read it: the row's columns, plus pass_ and gate.

    pass_ and gate are the objects the writer already holds; when it holds none they are looked
    up like the ORM relationship would (identity map first), so hooks behave as with AccessEvent.
    """

    def __init__(self, event_id, fields, pass_=None, gate=None):
        self.__dict__.update(fields)
        self.id = event_id
        self._pass, self._gate = pass_, gate

    @property
    def pass_(self):
        if self._pass is None and self.pass_id is not None:
            from portal.passes.models import Pass

            self._pass = db.session.get(Pass, self.pass_id)
        return self._pass

    @property
    def gate(self):
        if self._gate is None and self.gate_id is not None:
            from portal.sites.models import Gate

            self._gate = db.session.get(Gate, self.gate_id)
        return self._gate


_COLUMNS = tuple(c.name for c in AccessEvent.__table__.columns if c.name != "id")


@cache
def _insert_statement(relaxed):
    t = AccessEvent.__table__
    if relaxed:
        # SET LOCAL in the same round trip as the insert (set_config's third argument = local to the transaction).
        return t.insert().returning(t.c.id, func.set_config("synchronous_commit", "off", True))
    return t.insert().returning(t.c.id)


def insert_event(pass_=None, gate=None, synchronous=True, **fields):
    """record_event for hot paths: one Core INSERT (no unit-of-work flush), same hooks, same after-commit.

    synchronous=False (PostgreSQL only) lets this transaction commit without waiting for the WAL
    fsync; only for writers whose transaction guards nothing a later decision reads (docs/gate.md).
    Returns a NewEvent, not a session object: callers that attach the event to ORM objects use record_event.
    """
    row = dict.fromkeys(_COLUMNS)
    row.update(at=utcnow(), source="api", details={})
    row.update(fields)
    relaxed = not synchronous and db.session.get_bind().dialect.name == "postgresql"
    event = NewEvent(db.session.execute(_insert_statement(relaxed), row).first()[0], row, pass_, gate)
    for hook in _hooks:
        hook(event)
    db.session.info.setdefault("new_access_events", []).append(event.id)
    return event


def _publish(session):
    ids = session.info.pop("new_access_events", None)
    if ids:
        for fn in _after_commit:
            try:
                fn(ids)
            except Exception:  # a broken live feed must never break a gate decision
                import logging

                logging.getLogger(__name__).exception("access-event listener failed")


def _discard(session):
    session.info.pop("new_access_events", None)


def install(session_factory):
    """Wire commit/rollback of a session class to the after-commit listeners."""
    from sqlalchemy import event as sa_event

    sa_event.listen(session_factory, "after_commit", _publish)
    sa_event.listen(session_factory, "after_soft_rollback", lambda s, prev: _discard(s))
