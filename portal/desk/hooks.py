"""What turns into desk exceptions: access events (a hook in the writer's transaction) and the periodic jobs.

Events are noted when inserted and counted into their exceptions just before commit, in a fixed order
(docs/desk-exceptions.md says why).
"""

import hashlib
import logging

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm import Session

from portal.desk.operations import check_devices, check_overstays, count_exception_group, screen_new_passes
from portal.extensions import db

log = logging.getLogger(__name__)
_PENDING = "desk_exception_events"  # session.info: {(lock id, site id, group key): [(kind, event, fields), …]}
_DETAIL_KEYS = ("burst", "offline_double_use", "lost_events", "watchlist_entry_id")


def classify(ev):
    """The exception kind an access event calls for, or None (most grants need nobody)."""
    d = ev.details or {}
    if ev.reason == "watchlisted":
        return "watchlist"
    if ev.method in ("remote", "walk_in"):
        return None  # the desk did these itself
    if d.get("offline_double_use"):
        return "offline_double_use"
    if d.get("lost_events"):
        return "lost_events"
    if d.get("name_match") or d.get("watchlist_name"):
        return "name_match"
    if ev.decision != "deny":
        return None
    if ev.reason == "anti_passback":
        return "anti_passback"
    if ev.reason == "throttled":
        return "keypad_burst" if d.get("burst") else None  # single throttles are part of a burst already reported
    return "denied"


def _group_key(kind, ev):
    anchor = {
        "denied": f"{ev.gate_id}:{ev.reason}",
        "watchlist": f"{ev.pass_id or ev.plate or ev.id}",
        "name_match": f"pass:{ev.pass_id or ev.id}",
        "anti_passback": f"{ev.pass_id or ev.id}",
        "keypad_burst": f"{ev.device_id or ev.gate_id}",
        "offline_double_use": f"{ev.pass_id or ev.id}",
        "lost_events": f"{ev.device_id}",
    }[kind]
    return f"{kind}:{anchor}"


def exception_from_event(ev):
    """events.on_event hook: open or count an exception at commit; repeated denials at a gate group into one."""
    if ev.site_id is None:
        return
    kind = classify(ev)
    if kind is None:
        return
    key = _group_key(kind, ev)[:80]
    fields = dict(
        reason=ev.reason,
        gate_id=ev.gate_id,
        device_id=ev.device_id,
        pass_id=ev.pass_id,
        details={k: ev.details[k] for k in _DETAIL_KEYS if k in (ev.details or {})},
    )
    group = (_lock_id(ev.site_id, key), ev.site_id, key)
    db.session.info.setdefault(_PENDING, {}).setdefault(group, []).append((kind, ev, fields))


def _lock_id(site_id, group_key):
    """A stable signed 64-bit number per group: the advisory lock's key and the order groups are taken in."""
    digest = hashlib.blake2b(f"desk:{site_id}:{group_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def apply_pending(session):
    """before_commit: the noted events update their exceptions, groups in lock-id order (no deadlock)."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # whatever else the transaction locks comes before the exceptions, in every transaction
    pg = session.get_bind().dialect.name == "postgresql"
    for (lock_id, site_id, group_key), hits in sorted(pending.items(), key=lambda item: item[0]):
        if pg:
            # Serialises the writers of one group (SQLite's writers are one at a time anyway): no lost count,
            # no second open exception for the same group from two racing first denials.
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})
        count_exception_group(session, site_id, group_key, hits)


def _forget_pending(session, previous_transaction=None):
    session.info.pop(_PENDING, None)


def install():
    """Count noted events at commit (called once at start-up: adding a listener while another thread commits fails)."""
    if not sa_event.contains(Session, "before_commit", apply_pending):
        sa_event.listen(Session, "before_commit", apply_pending)
        sa_event.listen(Session, "after_soft_rollback", _forget_pending)


def committing(fn):
    """A job for the worker that runs fn() and commits its work."""

    def run(app):
        fn()
        db.session.commit()

    run.__name__ = fn.__name__
    return run


def register_jobs():
    """Periodic desk jobs for `flask --app wsgi worker run`; each commits its own work."""
    from portal.core.jobs import job

    job("desk.devices", 30)(committing(check_devices))
    job("desk.name_screen", 30)(committing(screen_new_passes))
    job("desk.overstays", 60)(committing(check_overstays))
