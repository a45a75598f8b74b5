"""Recording access events; other features subscribe to react in the same transaction."""
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
