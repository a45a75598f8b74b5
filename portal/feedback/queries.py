"""Reading feedback, always through the caller's reach: residents their own, staff their site's."""

from datetime import timedelta

from sqlalchemy import and_, exists, false, or_

from portal.accounts.models import STAFF_ROLES, User
from portal.accounts.queries import site_condition
from portal.core import crypto
from portal.core.timeutil import utcnow
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.feedback import notices
from portal.feedback.models import OPEN_STATUSES, Complaint, ComplaintPhoto, Escalation, FollowUp, Survey
from portal.passes.models import Pass

SURVEY_LOOKBACK = timedelta(days=3)  # passes that ended longer ago are never surveyed (first deploy, long outage)


def scoped(user):
    """A select over the filings a user may see."""
    q = db.select(Complaint)
    if user.role == "resident":
        return q.where(Complaint.author_id == user.id)
    if not user.is_staff:
        return q.where(false())
    return q.where(site_condition(user, Complaint.site_id))


def _valid_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def get_for(user, complaint_id):
    """A filing the user may see, or None (callers answer 404 either way)."""
    if not _valid_id(complaint_id):
        return None
    return db.session.scalar(scoped(user).where(Complaint.id == complaint_id))


def list_for(user, status=None, category=None, overdue=False, assignee_id=None, limit=100, offset=0):
    """Filings newest first; staff filters for the queue."""
    q = scoped(user)
    if status == "open":
        q = q.where(Complaint.status.in_(OPEN_STATUSES))
    elif status:
        q = q.where(Complaint.status == status)
    if category:
        q = q.where(Complaint.category == category)
    if assignee_id:
        q = q.where(Complaint.assignee_id == assignee_id)
    if overdue:
        now = utcnow()
        q = q.where(
            Complaint.status.in_(OPEN_STATUSES),
            or_(Complaint.due_resolution_at < now, (Complaint.due_response_at < now) & Complaint.last_response_at.is_(None)),
        )
    q = q.order_by(Complaint.id.desc()).limit(min(max(limit, 1), 200)).offset(min(max(offset, 0), 10**6))
    return db.session.scalars(q).all()


def queue(user, status="open", **filters):
    """The team's queue: open items, the most urgent deadlines first."""
    rows = list_for(user, status=status, limit=200, **filters)
    return sorted(rows, key=lambda c: (c.status not in OPEN_STATUSES, c.due_resolution_at))


def photo_for(user, photo_id, complaint_id=None):
    """A photo of a filing the user may see, or None."""
    if not _valid_id(photo_id):
        return None
    photo = db.session.get(ComplaintPhoto, photo_id)
    if photo is None or (complaint_id is not None and photo.complaint_id != complaint_id):
        return None
    return photo if get_for(user, photo.complaint_id) is not None else None


def thread(c, viewer):
    """Messages the viewer may read: residents never see internal notes or events."""
    if viewer.is_staff:
        return list(c.messages)
    return [m for m in c.messages if not m.internal]


def unread(c):
    """The resident has answers they have not opened yet."""
    return c.last_response_at is not None and (c.resident_seen_at is None or c.last_response_at > c.resident_seen_at)


def follow_ups(user, status="open", kind=None):
    """Follow-up tasks of the user's site, the earliest due first."""
    q = db.select(FollowUp).where(site_condition(user, FollowUp.site_id))
    if status:
        q = q.where(FollowUp.status == status)
    if kind:
        q = q.where(FollowUp.kind == kind)
    return db.session.scalars(q.order_by(FollowUp.due_at).limit(200)).all()


def follow_up_for(user, task_id):
    """A follow-up task of the user's site, or None."""
    if not _valid_id(task_id) or not user.is_staff:
        return None
    return db.session.scalar(db.select(FollowUp).where(FollowUp.id == task_id, site_condition(user, FollowUp.site_id)))


def escalations(user, complaint_id=None, limit=100):
    """Escalations of the user's site, newest first."""
    q = db.select(Escalation).where(site_condition(user, Escalation.site_id))
    if complaint_id is not None:
        q = q.where(Escalation.complaint_id == complaint_id)
    return db.session.scalars(q.order_by(Escalation.id.desc()).limit(limit)).all()


def escalated_ids(complaint_ids):
    """Which of these filings have been escalated."""
    if not complaint_ids:
        return set()
    q = db.select(Escalation.complaint_id).where(Escalation.complaint_id.in_(complaint_ids))
    return set(db.session.scalars(q))


def pending_surveys(user):
    """Surveys the user can still answer."""
    now = utcnow()
    q = db.select(Survey).where(Survey.user_id == user.id, Survey.answered_at.is_(None), Survey.expires_at > now)
    return db.session.scalars(q.order_by(Survey.id.desc())).all()


def team(site_id):
    """Active staff of a site, for assignment."""
    q = db.select(User).where(User.site_id == site_id, User.active.is_(True), User.role.in_(STAFF_ROLES))
    return db.session.scalars(q.order_by(User.display_name)).all()


def managers(site_id):
    """Active managers of a site: escalations go to them."""
    q = db.select(User).where(User.site_id == site_id, User.active.is_(True), User.role == "manager")
    return db.session.scalars(q).all()


def survey_link(token):
    """Absolute URL of the survey page."""
    return notices.absolute("surveys.page", token=token)


def survey_by_token(token):
    """A survey by its link token, or None."""
    if not token or not isinstance(token, str) or len(token) > 64:
        return None
    return db.session.scalar(db.select(Survey).where(Survey.token_hash == crypto.token_hash(token)))


def ended_passes(now):
    """Passes whose visit is over (ended after a granted entry, or the visitor went out) and not yet surveyed."""
    since = now - SURVEY_LOOKBACK
    granted = exists().where(AccessEvent.pass_id == Pass.id, AccessEvent.decision == "grant")
    exited = exists().where(
        AccessEvent.pass_id == Pass.id, AccessEvent.decision == "grant", AccessEvent.direction == "out", AccessEvent.at > since
    )
    surveyed = exists().where(Survey.pass_id == Pass.id)
    ended = or_(
        and_(Pass.valid_until <= now, Pass.valid_until > since),
        and_(Pass.revoked_at.is_not(None), Pass.revoked_at > since, Pass.revoked_at <= now),
    )
    q = db.select(Pass).where(or_(ended, exited), granted, ~surveyed).order_by(Pass.id).limit(500)
    return db.session.scalars(q).all()
