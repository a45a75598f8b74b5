"""Retention: a visitor's personal data is erased a configurable time after the pass ends.

PERSONAL_DATA declares, in one place, every column that holds a visitor's personal data and what the
purge leaves in it; the purge walks it, and a test fails when a model gains a column that looks personal
(name, phone, ID number, plate, ...) that is neither declared here nor in KEPT with a reason.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import String, cast, delete, or_, select, update

from portal.audit.operations import record
from portal.core.jobs import job
from portal.core.timeutil import utcnow
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.notify.models import Message
from portal.passes.models import Pass
from portal.walkins.models import ItemMovement, WalkIn

PURGED_NAME = "—"
DELETE_ROW = object()  # the whole row goes (SMS texts: the message is the personal data)
# Keys of an access event's details that name or identify the visitor.
PERSONAL_DETAILS = ("visitor_name", "name", "phone", "id_number", "plate", "carrier_name")
SCRUB_DETAILS = object()  # drop PERSONAL_DETAILS from a JSON details column

#: table -> column -> what the purge leaves there.
PERSONAL_DATA = {
    Pass.__tablename__: {"visitor_name": PURGED_NAME, "visitor_phone": None, "visitor_phone_idx": None,
                         "visitor_id_number": None, "visitor_id_idx": None, "plate": None, "company": None,
                         "work_area": None, "note": None, "revoke_reason": None},
    WalkIn.__tablename__: {"visitor_name": PURGED_NAME, "visitor_phone": None, "visitor_id_number": None,
                           "plate": None, "purpose": None, "guard_reason": None},
    ItemMovement.__tablename__: {"carrier_name": None, "plate": None, "guard_reason": None},
    AccessEvent.__tablename__: {"plate": None, "details": SCRUB_DETAILS},
    Message.__tablename__: {"body": DELETE_ROW, "purpose": DELETE_ROW},
}

#: (table, column) that look personal but are not a visitor's data, or are erased by another job; and why.
KEPT = {
    ("users", "display_name"): "residents' and staff accounts, kept while the account lives",
    ("users", "phone"): "residents' and staff accounts, kept while the account lives",
    ("watchlist", "name"): "a ban outlives any visit; managers remove entries",
    ("watchlist", "id_idx"): "keyed hash for the watchlist's exact match",
    ("watchlist", "phone_idx"): "keyed hash for the watchlist's exact match",
    ("watchlist", "plate"): "a ban outlives any visit; managers remove entries",
    ("face_images", "jpeg"): "erased when the pass ends or consent is withdrawn (portal.faces purge)",
    ("sites", "name"): "a community, not a person",
    ("sites", "name_en"): "a community, not a person",
    ("sites", "address"): "a community, not a person",
    ("buildings", "name"): "a building, not a person",
    ("buildings", "name_en"): "a building, not a person",
    ("gates", "name"): "a gate, not a person",
    ("gates", "name_en"): "a gate, not a person",
    ("devices", "name"): "a device, not a person",
    ("devices", "name_en"): "a device, not a person",
    ("api_tokens", "name"): "a token's label",
    ("desk_cursors", "name"): "a cursor's label",
}


def _values(table):
    return {col: value for col, value in PERSONAL_DATA[table].items() if value is not SCRUB_DETAILS}


def _scrub_events(where):
    """Access events stay for the reports, without the visitor's plate or name in their details."""
    rows = db.session.execute(select(AccessEvent.id, AccessEvent.details).where(where)).all()
    for event_id, details in rows:
        clean = {k: v for k, v in (details or {}).items() if k not in PERSONAL_DETAILS}
        db.session.execute(update(AccessEvent).where(AccessEvent.id == event_id)
                           .values(**_values(AccessEvent.__tablename__), details=clean))


def _carries_personal_data():
    """Events still holding a plate or a personal details key (so a re-run finds nothing)."""
    text = cast(AccessEvent.details, String)
    return or_(AccessEvent.plate.is_not(None), *[text.like(f'%"{key}"%') for key in PERSONAL_DETAILS])


def _anonymise(ids, now):
    db.session.execute(update(Pass).where(Pass.id.in_(ids)).values(**_values(Pass.__tablename__), purged_at=now))
    db.session.execute(delete(Message).where(Message.pass_id.in_(ids)))
    db.session.execute(update(WalkIn).where(WalkIn.pass_id.in_(ids)).values(**_values(WalkIn.__tablename__)))
    _scrub_events(AccessEvent.pass_id.in_(ids) & _carries_personal_data())


def erase_now(p, reason):
    """Erasure on request: revoke the pass (devices drop it) and erase the visitor's data at once."""
    from portal.passes.operations import revoke_pass

    revoke_pass(p, reason="erasure requested")
    db.session.flush()
    _anonymise([p.id], utcnow())
    record("pass.erase", "pass", p.id, site_id=p.site_id, reason=reason)
    db.session.expire(p)
    return p


def purge_ended(now=None, batch=500):
    """Anonymise passes that ended RETENTION_DAYS ago; safe to run again. Returns the pass ids."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["RETENTION_DAYS"])
    ended = or_(Pass.valid_until < cutoff, Pass.revoked_at < cutoff)
    ids = db.session.scalars(db.select(Pass.id).where(ended, Pass.purged_at.is_(None)).limit(batch)).all()
    if not ids:
        return []
    _anonymise(ids, now)
    record("pass.purge", "pass", None, pass_ids=ids, retention_days=current_app.config["RETENTION_DAYS"])
    return ids


def purge_without_pass(now=None, batch=500):
    """Walk-ins and item movements RETENTION_DAYS old, and access events with no pass; returns how many rows."""
    from portal.walkins.operations import purge_desk_records

    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["RETENTION_DAYS"])
    done = purge_desk_records(cutoff, batch, _values(WalkIn.__tablename__), _values(ItemMovement.__tablename__))
    event_ids = db.session.scalars(select(AccessEvent.id).where(
        AccessEvent.pass_id.is_(None), AccessEvent.at < cutoff, _carries_personal_data()).limit(batch)).all()
    if event_ids:
        _scrub_events(AccessEvent.id.in_(event_ids))
    if done or event_ids:
        record("desk.purge", "walk_in", None, rows=done + len(event_ids),
               retention_days=current_app.config["RETENTION_DAYS"])
    return done + len(event_ids)


@job("passes_retention", every_seconds=3600)
def retention_job(app):
    """Hourly: erase visitor data of passes (and of walk-ins, items and events without one) past retention, in batches."""
    while purge_ended():
        db.session.commit()
    while purge_without_pass():
        db.session.commit()
    db.session.commit()
