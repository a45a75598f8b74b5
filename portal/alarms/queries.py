"""Reads of alarms for the desk and the live feed."""

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.alarms.models import Alarm
from portal.core.i18n import N_
from portal.extensions import db

LIMIT = 200


def alarms(site_id, state=None, limit=LIMIT):
    """A site's alarms, newest first; state open keeps those still waiting for a guard."""
    q = select(Alarm).where(Alarm.site_id == site_id).options(selectinload(Alarm.device), selectinload(Alarm.acknowledged_by))
    if state == "open":
        q = q.where(Alarm.acknowledged_at.is_(None), Alarm.cleared_at.is_(None))
    elif state == "acknowledged":
        q = q.where(Alarm.acknowledged_at.is_not(None))
    elif state == "cleared":
        q = q.where(Alarm.cleared_at.is_not(None))
    return db.session.scalars(q.order_by(Alarm.id.desc()).limit(limit)).all()


def by_ids(ids, site_ids=None):
    """Alarms by id (the feed's announcements), limited to sites when given."""
    q = select(Alarm).where(Alarm.id.in_(list(ids))).options(selectinload(Alarm.device), selectinload(Alarm.acknowledged_by))
    if site_ids is not None:
        q = q.where(Alarm.site_id.in_(list(site_ids)))
    return db.session.scalars(q.order_by(Alarm.id)).all()


def changed_since(since, limit=500):
    """Alarms written at or after a moment (the SQLite feed polls these)."""
    q = select(Alarm.id).where(Alarm.updated_at >= since).order_by(Alarm.updated_at).limit(limit)
    return db.session.scalars(q).all()


def ack_minutes(site_id, start, end):
    """Minutes from raised to acknowledged of the alarms raised in a period (the team's KPI; portal.reports.team)."""
    q = select(Alarm.raised_at, Alarm.acknowledged_at).where(
        Alarm.site_id == site_id, Alarm.raised_at >= start, Alarm.raised_at < end, Alarm.acknowledged_at.is_not(None)
    )
    return [(acked - raised).total_seconds() / 60 for raised, acked in db.session.execute(q)]


def shift_section(site_id, start, end):
    """The alarms raised during a shift, for its handover record (portal.shifts.queries.SHIFT_SECTIONS)."""
    from portal.alarms.serialize import ALARM_LABELS, STATE_LABELS

    q = select(Alarm).where(Alarm.site_id == site_id, Alarm.raised_at >= start, Alarm.raised_at < end)
    items = [
        {"id": a.id, "what": str(ALARM_LABELS[a.kind]), "at": a.raised_at, "status": str(STATE_LABELS[a.state])}
        for a in db.session.scalars(q.order_by(Alarm.raised_at).limit(LIMIT))
    ]
    return N_("Door alarms"), items
