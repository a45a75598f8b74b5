"""Who is on shift and where; handovers searched by date, guard and text, and what happened on a shift."""

from collections.abc import Callable
from datetime import datetime, time, timedelta

from portal.accounts.models import User
from portal.core.timeutil import utcnow, zone
from portal.desk.models import DeskException, Shift
from portal.extensions import db
from portal.incidents.models import Incident
from portal.shifts.models import GuardOffer, GuardPost

# What a shift's record shows besides incidents and exceptions: fn(site_id, start, end) -> (title msgid, [{"id",
# "what", "at", "status"}]); features that own such records add theirs in init_app (portal.alarms: the door alarms).
SHIFT_SECTIONS: list[Callable] = []


def on_shift(site_id):
    """Active people with a running shift at the site."""
    q = (
        db.select(User)
        .join(Shift, Shift.guard_id == User.id)
        .where(Shift.site_id == site_id, Shift.ended_at.is_(None), User.active.is_(True))
        .distinct()
        .order_by(User.id)
    )
    return db.session.scalars(q).all()


def posts(site_id):
    """{guard id: post} for running shifts."""
    q = db.select(GuardPost).join(Shift, Shift.id == GuardPost.shift_id).where(Shift.site_id == site_id, Shift.ended_at.is_(None))
    return {p.guard_id: p for p in db.session.scalars(q)}


def nearest_guards(site_id, building_id=None):
    """Guards posted at the building; else those on patrol; else everyone on shift."""
    everyone = on_shift(site_id)
    if building_id is None:
        return everyone
    where = posts(site_id)
    here = [g for g in everyone if (p := where.get(g.id)) and p.kind == "building" and p.building_id == building_id]
    patrol = [g for g in everyone if (p := where.get(g.id)) and p.kind == "patrol"]
    return here or patrol or everyone


def offers_for(subject, subject_id):
    """The offers of an incident or alarm, first wave first."""
    q = db.select(GuardOffer).where(GuardOffer.subject == subject, GuardOffer.subject_id == subject_id)
    return db.session.scalars(q.order_by(GuardOffer.wave, GuardOffer.id)).all()


def open_offer_ids(user_id, subject):
    """Ids of what is offered to this guard and still unanswered."""
    q = db.select(GuardOffer.subject_id).where(
        GuardOffer.guard_id == user_id, GuardOffer.subject == subject, GuardOffer.answered_at.is_(None)
    )
    return set(db.session.scalars(q))


def _like(text):
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def handovers(site, text=None, guard_id=None, first=None, last=None, limit=50, offset=0):
    """Ended shifts of a site, newest first; text matches the notes or the guard's name; dates are local days."""
    q = db.select(Shift).join(User, User.id == Shift.guard_id).where(Shift.site_id == site.id, Shift.ended_at.is_not(None))
    if text:
        q = q.where(Shift.notes.ilike(_like(text), escape="\\") | User.display_name.ilike(_like(text), escape="\\"))
    if guard_id:
        q = q.where(Shift.guard_id == guard_id)
    tz = zone(site.timezone)
    if first is not None:
        q = q.where(Shift.ended_at >= datetime.combine(first, time(0), tzinfo=tz))
    if last is not None:
        q = q.where(Shift.started_at < datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz))
    q = q.order_by(Shift.ended_at.desc(), Shift.id.desc()).limit(max(1, min(limit, 200))).offset(max(0, offset))
    return db.session.scalars(q).all()


def shift_guards(site_id):
    """Everyone who has had a shift at the site, for the guard filter."""
    q = db.select(User).where(User.id.in_(db.select(Shift.guard_id).where(Shift.site_id == site_id))).order_by(User.id)
    return db.session.scalars(q).all()


def shift_record(shift):
    """What happened during a shift: incidents, exceptions (opened then or handed over) and other sections."""
    start, end = shift.started_at, shift.ended_at or utcnow()
    incidents = db.session.scalars(
        db.select(Incident)
        .where(
            Incident.site_id == shift.site_id,
            (Incident.reported_at.between(start, end)) | (Incident.resolved_at.between(start, end)),
        )
        .order_by(Incident.reported_at)
        .limit(500)
    ).all()
    handed = set(shift.open_exception_ids or [])
    exceptions = db.session.scalars(
        db.select(DeskException)
        .where(
            DeskException.site_id == shift.site_id,
            DeskException.created_at.between(start, end) | DeskException.id.in_(handed or {-1}),
        )
        .order_by(DeskException.id)
        .limit(500)
    ).all()
    sections = [fn(shift.site_id, start, end) for fn in SHIFT_SECTIONS]
    return {"incidents": incidents, "exceptions": exceptions, "handed_over": handed, "sections": sections}
