"""Writes on complaints and suggestions (file, thread, triage, assign, answer, resolve, follow up, reopen) and surveys."""

import logging
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.audit.operations import record
from portal.core import crypto
from portal.core.errors import Refused
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.feedback import notices, queries, sla
from portal.feedback.models import OPEN_STATUSES, Complaint, ComplaintMessage, ComplaintPhoto, FollowUp, Survey
from portal.feedback.queries import survey_link
from portal.feedback.uploads import MAX_PHOTOS

log = logging.getLogger(__name__)
LOW_SCORE = 2  # a survey score of this or less opens a follow-up task


def _event(c, by, action, internal=False, **details):
    """A status change in the thread; internal ones are for the team only."""
    msg = ComplaintMessage(
        complaint_id=c.id,
        author_id=by.id if by else None,
        author_role="system",
        kind="event",
        internal=internal,
        details={"action": action, **details},
    )
    db.session.add(msg)
    return msg


def file_complaint(author, site, unit, values, photos=(), source="resident", filed_by=None):
    """A resident files a complaint, suggestion or help request (or staff for them), with up to three cleaned photos."""
    if len(photos) > MAX_PHOTOS:
        raise Refused("too_many_photos", "At most 3 photos per filing.")
    now = utcnow()
    priority = sla.CATEGORY_PRIORITY.get(values["category"], "normal")
    due_response, due_resolution = sla.deadlines(site, values["category"], priority, now, values["kind"])
    # An anonymous suggestion keeps no unit: the unit alone would tell staff who wrote it.
    c = Complaint(
        site_id=site.id,
        unit_id=None if values["anonymous"] else unit.id,
        author_id=author.id,
        kind=values["kind"],
        anonymous=values["anonymous"],
        category=values["category"],
        location=values["location"],
        description=values["description"],
        status="new",
        priority=priority,
        due_response_at=due_response,
        due_resolution_at=due_resolution,
        created_at=now,
        resident_seen_at=now,
        source=source,
        filed_by_id=filed_by.id if filed_by is not None else None,
    )
    db.session.add(c)
    db.session.flush()
    for photo in photos:
        db.session.add(ComplaintPhoto.of(photo, complaint_id=c.id))
    if not c.anonymous:
        # Anonymous suggestions get no audit row: its actor column would reveal the author to staff.
        record(
            "feedback.file",
            "complaint",
            c.id,
            site_id=site.id,
            kind=c.kind,
            category=c.category,
            photos=len(photos),
            source=source,
        )
    return c


def _require_open(c):
    if c.status not in OPEN_STATUSES:
        raise Refused("not_open", "This feedback is resolved or closed; reopen it first.", kind="conflict")


def add_resident_message(c, author, body):
    """The resident adds to their own thread."""
    msg = ComplaintMessage(complaint_id=c.id, author_id=author.id, author_role="resident", kind="message", body=body)
    db.session.add(msg)
    c.resident_seen_at = utcnow()
    c.updated_at = utcnow()
    return msg


def add_note(c, by, body):
    """A staff note the resident does not see."""
    msg = ComplaintMessage(complaint_id=c.id, author_id=by.id, author_role="staff", kind="note", internal=True, body=body)
    db.session.add(msg)
    record("feedback.note", "complaint", c.id, site_id=c.site_id)
    return msg


def triage(c, by, priority, category=None):
    """Set the priority (and fix the category); the SLA clocks follow."""
    _require_open(c)
    old = (c.priority, c.category)
    c.priority = priority
    c.category = category or c.category
    start = c.reopened_at or c.created_at
    c.due_response_at, c.due_resolution_at = sla.deadlines(c.site, c.category, c.priority, start)
    if c.status == "new":
        c.status = "triaged"
    _event(c, by, "triage", internal=True, priority=priority, category=c.category)
    record("feedback.triage", "complaint", c.id, site_id=c.site_id, old=list(old), priority=priority, category=c.category)


def assign(c, by, assignee):
    """Give the filing to a member of the site's team."""
    if assignee is None or not assignee.active or not assignee.is_staff or assignee.site_id != c.site_id:
        raise Refused(
            "invalid",
            "Some fields are invalid.",
            fields={"assignee_id": ("invalid_assignee", "Choose a member of this site's team.")},
        )
    c.assignee_id = assignee.id
    if c.status == "new":
        c.status = "triaged"
    _event(c, by, "assign", internal=True, assignee=assignee.display_name)
    record("feedback.assign", "complaint", c.id, site_id=c.site_id, assignee_id=assignee.id)


def respond(c, by, body):
    """Answer the resident: visible in the thread at once and announced by SMS."""
    now = utcnow()
    msg = ComplaintMessage(complaint_id=c.id, author_id=by.id, author_role="staff", kind="response", body=body, created_at=now)
    db.session.add(msg)
    if c.first_response_at is None:
        c.first_response_at = now
    c.last_response_at = now
    if c.status in ("new", "triaged"):
        c.status = "in_progress"
    c.updated_at = now
    notices.answered(c)
    record("feedback.respond", "complaint", c.id, site_id=c.site_id)
    return msg


def resolve(c, by, response=None):
    """Mark resolved (optionally with a final answer); a follow-up visit is then due."""
    _require_open(c)
    if response:
        respond(c, by, response)
    if sla.needs_response(c):
        raise Refused("response_required", "Answer the resident before resolving or closing.", kind="conflict")
    now = utcnow()
    c.status = "resolved"
    c.resolved_at = now
    task = FollowUp(site_id=c.site_id, kind="visit", complaint_id=c.id, assignee_id=c.assignee_id, due_at=sla.follow_up_due(now))
    db.session.add(task)
    _event(c, by, "resolve")
    record("feedback.resolve", "complaint", c.id, site_id=c.site_id)
    return task


def close(c, by):
    """Close after the follow-up; never without an answer to the resident."""
    if c.status != "resolved":
        raise Refused("not_resolved", "Only resolved feedback can be closed.", kind="conflict")
    if c.first_response_at is None or sla.needs_response(c):
        raise Refused("response_required", "Answer the resident before resolving or closing.", kind="conflict")
    c.status = "closed"
    c.closed_at = utcnow()
    _event(c, by, "close")
    record("feedback.close", "complaint", c.id, site_id=c.site_id)
    send_complaint_survey(c)


def reopen(c, by, reason):
    """Back to work: the clocks restart and a fresh answer is needed before resolving again."""
    if c.status not in ("resolved", "closed"):
        raise Refused("not_resolved", "Only resolved or closed feedback can be reopened.", kind="conflict")
    now = utcnow()
    c.status = "in_progress"
    c.reopened_at = now
    c.reopen_count += 1
    c.resolved_at = None
    c.closed_at = None
    c.due_response_at, c.due_resolution_at = sla.deadlines(c.site, c.category, c.priority, now)
    for task in db.session.scalars(
        db.select(FollowUp).where(FollowUp.complaint_id == c.id, FollowUp.kind == "visit", FollowUp.status == "open")
    ):
        task.status = "done"
        task.outcome = "not_solved"
        task.done_at = now
        task.done_by_id = by.id
        task.note = reason
    _event(c, by, "reopen", reason=reason)
    record("feedback.reopen", "complaint", c.id, site_id=c.site_id, reason=reason)


def follow_up(c, by, outcome, note):
    """Record the follow-up visit (回访): solved or unreachable closes, not solved reopens."""
    if c.status != "resolved":
        raise Refused("not_resolved", "The follow-up visit comes after the resolution.", kind="conflict")
    if outcome not in ("solved", "not_solved", "unreachable"):
        raise Refused(
            "invalid",
            "Some fields are invalid.",
            fields={"outcome": ("invalid_choice", "Choose one of the offered values.")},
        )
    task = db.session.scalar(
        db.select(FollowUp)
        .where(FollowUp.complaint_id == c.id, FollowUp.kind == "visit", FollowUp.status == "open")
        .order_by(FollowUp.id.desc())
    )
    if task is None:
        task = FollowUp(site_id=c.site_id, kind="visit", complaint_id=c.id, due_at=utcnow())
        db.session.add(task)
    _finish(task, by, outcome, note)
    _event(c, by, "follow_up", outcome=outcome)
    if outcome == "not_solved":
        reopen(c, by, note)
    else:
        close(c, by)
    return task


def _finish(task, by, outcome, note):
    task.status = "done"
    task.outcome = outcome
    task.note = note
    task.done_at = utcnow()
    task.done_by_id = by.id
    record("feedback.follow_up", "follow_up", task.id, site_id=task.site_id, outcome=outcome, kind=task.kind)


def complete_task(task, by, outcome, note):
    """Close a follow-up task with its outcome; visits go through follow_up() to move the complaint."""
    if task.status != "open":
        raise Refused("task_done", "This follow-up is already done.", kind="conflict")
    if task.kind == "visit" and task.complaint is not None and task.complaint.status == "resolved":
        return follow_up(task.complaint, by, outcome, note)
    _finish(task, by, outcome, note)
    if task.complaint is not None and outcome == "not_solved" and task.complaint.status in ("resolved", "closed"):
        reopen(task.complaint, by, note)
    return task


def mark_seen(c):
    """The resident opened the thread: answers so far are no longer new."""
    c.resident_seen_at = utcnow()


def create_survey(user, site_id, kind, pass_=None, complaint=None, now=None):
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
    notices.survey(s, survey_link(token))
    record("survey.send", "survey", s.id, site_id=site_id, kind=kind)
    return s


def send_complaint_survey(c):
    """Ask the complainant how it went, unless a survey for this filing is still waiting."""
    now = utcnow()
    waiting = db.session.scalar(
        db.select(Survey.id).where(Survey.complaint_id == c.id, Survey.answered_at.is_(None), Survey.expires_at > now)
    )
    if waiting is None:
        return create_survey(c.author, c.site_id, "complaint", complaint=c, now=now)
    return None


def check_survey_open(s, now=None):
    """Refuse an answered (conflict) or expired (gone) survey."""
    now = now or utcnow()
    if s.answered_at is not None:
        raise Refused("already_answered", "This survey has already been answered. Thank you.", kind="conflict")
    if now >= s.expires_at:
        raise Refused("expired", "This survey link has expired.", kind="gone")


def answer_survey(s, score, comment):
    """Record the answer exactly once; a low score opens a follow-up task."""
    now = utcnow()
    check_survey_open(s, now)
    # Conditional update: two racing answers cannot both win.
    done = db.session.execute(
        update(Survey)
        .where(Survey.id == s.id, Survey.answered_at.is_(None), Survey.expires_at > now)
        .values(answered_at=now, score=score, comment=comment)
    ).rowcount
    if done != 1:
        raise Refused("already_answered", "This survey has already been answered. Thank you.", kind="conflict")
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


def scan_ended_passes(now=None):
    """Send one visit survey per ended pass to its host; returns the surveys created. Commits."""
    now = now or utcnow()
    made = []
    for p in queries.ended_passes(now):
        host = p.host
        if host is None or not host.active:
            continue
        try:
            with db.session.begin_nested():
                made.append(create_survey(host, p.site_id, "visit", pass_=p, now=now))
        except IntegrityError:
            log.info("survey for pass %s already made by another worker", p.id)
    db.session.commit()
    return made
