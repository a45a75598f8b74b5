"""Satisfaction surveys: sent after a visit or a closed complaint, answered once, through an expiring link."""

import logging
import secrets
from datetime import timedelta

from sqlalchemy import and_, exists, or_, update
from sqlalchemy.exc import IntegrityError

from portal.audit.operations import record
from portal.core import crypto
from portal.core.errors import ApiError
from portal.core.timeutil import utcnow
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.feedback import notices, sla
from portal.feedback.models import FollowUp, Survey
from portal.passes.models import Pass

log = logging.getLogger(__name__)
LOW_SCORE = 2  # this or less opens a follow-up task
LOOKBACK = timedelta(days=3)  # passes that ended longer ago are never surveyed (first deploy, long outage)


def link(token):
    """Absolute URL of the survey page."""
    return notices.absolute("surveys.page", token=token)


def create(user, site_id, kind, pass_=None, complaint=None, now=None):
    """A survey for one person, in their language, with an unguessable link; SMS queued if they have a phone."""
    now = now or utcnow()
    token = secrets.token_urlsafe(24)
    s = Survey(
        site_id=site_id,
        user_id=user.id,
        kind=kind,
        pass_id=pass_.id if pass_ else None,
        complaint_id=complaint.id if complaint else None,
        token_hash=crypto.token_hash(token),
        token=token,
        locale=user.locale if user.locale in ("zh", "en") else "zh",
        created_at=now,
        expires_at=now + timedelta(days=sla.SURVEY_DAYS),
    )
    db.session.add(s)
    db.session.flush()
    notices.survey(s, link(token))
    record("survey.send", "survey", s.id, site_id=site_id, kind=kind)
    return s


def send_complaint_survey(c):
    """Ask the complainant how it went, unless a survey for this filing is still waiting."""
    now = utcnow()
    waiting = db.session.scalar(
        db.select(Survey.id).where(Survey.complaint_id == c.id, Survey.answered_at.is_(None), Survey.expires_at > now)
    )
    if waiting is None:
        return create(c.author, c.site_id, "complaint", complaint=c, now=now)
    return None


def by_token(token):
    """A survey by its link token, or None."""
    if not token or not isinstance(token, str) or len(token) > 64:
        return None
    return db.session.scalar(db.select(Survey).where(Survey.token_hash == crypto.token_hash(token)))


def check_open(s, now=None):
    """Raise 409 if answered, 410 if expired."""
    now = now or utcnow()
    if s.answered_at is not None:
        raise ApiError(409, "already_answered", "This survey has already been answered. Thank you.")
    if now >= s.expires_at:
        raise ApiError(410, "expired", "This survey link has expired.")


def answer(s, score, comment):
    """Record the answer exactly once; a low score opens a follow-up task."""
    now = utcnow()
    check_open(s, now)
    # Conditional update: two racing answers cannot both win.
    done = db.session.execute(
        update(Survey)
        .where(Survey.id == s.id, Survey.answered_at.is_(None), Survey.expires_at > now)
        .values(answered_at=now, score=score, comment=comment)
    ).rowcount
    if done != 1:
        raise ApiError(409, "already_answered", "This survey has already been answered. Thank you.")
    db.session.refresh(s)
    record("survey.answer", "survey", s.id, site_id=s.site_id, score=score)
    task = None
    if score <= LOW_SCORE:
        task = FollowUp(
            site_id=s.site_id,
            kind="survey",
            survey_id=s.id,
            complaint_id=s.complaint_id,
            assignee_id=s.complaint.assignee_id if s.complaint else None,
            due_at=sla.follow_up_due(now),
        )
        db.session.add(task)
        db.session.flush()
        record("follow_up.open", "follow_up", task.id, site_id=s.site_id, survey_id=s.id, score=score)
    return task


def ended_passes(now):
    """Passes whose visit is over (ended after a granted entry, or the visitor went out) and not yet surveyed."""
    since = now - LOOKBACK
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


def scan_ended_passes(now=None):
    """Send one visit survey per ended pass to its host; returns the surveys created. Commits."""
    now = now or utcnow()
    made = []
    for p in ended_passes(now):
        host = p.host
        if host is None or not host.active:
            continue
        try:
            with db.session.begin_nested():
                made.append(create(host, p.site_id, "visit", pass_=p, now=now))
        except IntegrityError:
            log.info("survey for pass %s already made by another worker", p.id)
    db.session.commit()
    return made
