"""What turns into desk exceptions: access events (a hook in the writer's transaction) and periodic checks.

The hook does not touch desk_exceptions when the event is inserted: it notes the event, and just before
the transaction commits the noted events update their exceptions, one statement per group, groups in a
fixed order, each under a lock of its own (PostgreSQL advisory, transaction-scoped). Updating each row
as its event came made a gate decision lock a token row and then an exception row while a journal batch
locked them the other way round, and two batches lock the same exceptions in different orders: bursts
of denials deadlocked (5 in 350 parallel verifies), and `count = count + 1` read in Python lost counts.
"""
import hashlib
import logging

from sqlalchemy import event as sa_event
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from portal.core.timeutil import utcnow
from portal.desk.models import DeskCursor, DeskException
from portal.desk.operations import GROUP_WINDOW, auto_close, raise_exception
from portal.extensions import db

log = logging.getLogger(__name__)
DEFAULT_PARKING_MINUTES = 120
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
    fields = dict(reason=ev.reason, gate_id=ev.gate_id, device_id=ev.device_id, pass_id=ev.pass_id,
                  details={k: ev.details[k] for k in _DETAIL_KEYS if k in (ev.details or {})})
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
        _count_group(session, site_id, group_key, hits)


def _count_group(session, site_id, group_key, hits):
    now, (kind, first, fields), last = utcnow(), hits[0], hits[-1][1]
    t = DeskException.__table__
    latest = session.execute(select(t.c.id, t.c.last_seen_at).where(
        t.c.site_id == site_id, t.c.group_key == group_key, t.c.status != "closed").order_by(t.c.id.desc()).limit(1)).first()
    if latest is not None and now - latest.last_seen_at <= GROUP_WINDOW:
        session.execute(update(t).where(t.c.id == latest.id).values(
            count=t.c.count + len(hits), last_seen_at=now, last_event_id=last.id, updated_at=now))
        return
    x = raise_exception(site_id, kind, group_key, event=first, window=GROUP_WINDOW, **fields)  # none open: a new one
    x.count, x.last_event_id = len(hits), last.id  # flushed by the commit under way


def _forget_pending(session, previous_transaction=None):
    session.info.pop(_PENDING, None)


def install():
    """Count noted events at commit (called once at start-up: adding a listener while another thread commits fails)."""
    if not sa_event.contains(Session, "before_commit", apply_pending):
        sa_event.listen(Session, "before_commit", apply_pending)
        sa_event.listen(Session, "after_soft_rollback", _forget_pending)


def screen_name(site_id, name, anchor, details=None):
    """Flag a fuzzy watchlist name match for a human; it never denies by itself."""
    from portal.watchlist.operations import name_hits

    hits = name_hits(site_id, name)
    if not hits:
        return None
    info = dict(details or {}, watchlist_ids=[h.id for h in hits], watchlist_names=[h.name for h in hits])
    return raise_exception(site_id, "name_match", f"name_match:{anchor}", window=None, details=info,
                           pass_id=(details or {}).get("pass_id"))


def check_devices(now=None):
    """Devices offline or failed, and failed credential pushes, become exceptions; recovered devices close theirs."""
    from portal.devices.models import Device

    opened = 0
    for dev in db.session.scalars(db.select(Device)):
        key = f"device_offline:{dev.id}"
        open_x = db.session.scalar(db.select(DeskException).where(
            DeskException.site_id == dev.site_id, DeskException.group_key == key, DeskException.status != "closed"))
        if dev.status in ("offline", "failed"):
            if open_x is None:
                raise_exception(dev.site_id, "device_offline", key, window=None, device_id=dev.id, reason="error",
                                details={"status": dev.status})
                opened += 1
        elif open_x is not None and dev.status == "online":
            auto_close(open_x, note="device back online")
    for dev_id, site_id, failed in _failed_pushes():
        key = f"push_failed:{dev_id}"
        x = db.session.scalar(db.select(DeskException).where(
            DeskException.site_id == site_id, DeskException.group_key == key, DeskException.status != "closed"))
        if x is None:
            raise_exception(site_id, "push_failed", key, window=None, device_id=dev_id, details={"failed": failed})
            opened += 1
        else:
            x.details = dict(x.details or {}, failed=failed)
    return opened


def _failed_pushes():
    try:
        from portal.bridge.models import DeviceCredential
    except ImportError:  # the bridge is optional
        return []
    from portal.devices.models import Device

    q = (db.select(DeviceCredential.device_id, Device.site_id, db.func.count())
         .join(Device, Device.id == DeviceCredential.device_id)
         .where(DeviceCredential.status == "failed").group_by(DeviceCredential.device_id, Device.site_id))
    return db.session.execute(q).all()


def screen_new_passes():
    """Screen passes issued since the last run against watchlist names."""
    from portal.passes.models import Pass

    cursor = db.session.get(DeskCursor, "name_screen")
    if cursor is None:
        cursor = DeskCursor(name="name_screen", value=0)
        db.session.add(cursor)
    rows = db.session.scalars(db.select(Pass).where(Pass.id > cursor.value).order_by(Pass.id).limit(1000)).all()
    for p in rows:
        screen_name(p.site_id, p.visitor_name, f"pass:{p.id}", details={"pass_id": p.id, "unit": p.unit.label})
        cursor.value = p.id
    return len(rows)


def check_overstays(now=None):
    """Visitor vehicles parked longer than the site's limit become exceptions."""
    from portal.desk.queries import vehicles_on_site
    from portal.sites.models import Site

    now = now or utcnow()
    flagged = 0
    for site in db.session.scalars(db.select(Site)):
        for car in vehicles_on_site(site, now=now):
            if not car["overstay"]:
                continue
            key = f"overstay:{car['event_id']}"
            seen = db.session.scalar(db.select(DeskException.id).where(DeskException.site_id == site.id,
                                                                       DeskException.group_key == key).limit(1))
            if seen is None:
                raise_exception(site.id, "overstay", key, window=None,
                                    gate_id=car["gate_id"], pass_id=car["pass_id"],
                                    details={"plate": car["plate"], "limit_minutes": car["limit_minutes"]})
                flagged += 1
    return flagged


def register_jobs():
    """Periodic desk jobs for `flask --app wsgi worker run`; each commits its own work."""
    from portal.core.jobs import job
    from portal.desk.walkins import expire_pending

    def _committing(fn):
        def run(app):
            fn()
            db.session.commit()

        run.__name__ = fn.__name__
        return run

    job("desk.devices", 30)(_committing(check_devices))
    job("desk.approvals_timeout", 30)(_committing(expire_pending))
    job("desk.name_screen", 30)(_committing(screen_new_passes))
    job("desk.overstays", 60)(_committing(check_overstays))
