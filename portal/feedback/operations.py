"""Writes on complaints and suggestions: file, thread, triage, assign, answer, resolve, follow up, reopen."""

from portal.audit.operations import record
from portal.core.errors import ApiError
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.feedback import notices, sla
from portal.feedback.models import OPEN_STATUSES, Complaint, ComplaintMessage, ComplaintPhoto, FollowUp
from portal.feedback.uploads import MAX_PHOTOS


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


def file_complaint(author, site, unit, values, photos=()):
    """A resident files a complaint or suggestion, with up to three cleaned photos."""
    if len(photos) > MAX_PHOTOS:
        raise ApiError(400, "too_many_photos", "At most 3 photos per filing.")
    now = utcnow()
    priority = sla.CATEGORY_PRIORITY.get(values["category"], "normal")
    due_response, due_resolution = sla.deadlines(site, values["category"], priority, now)
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
    )
    db.session.add(c)
    db.session.flush()
    for photo in photos:
        db.session.add(
            ComplaintPhoto(
                complaint_id=c.id,
                content_type=photo.content_type,
                width=photo.width,
                height=photo.height,
                size=len(photo.data),
                sha256=photo.sha256,
                data=photo.data,
            )
        )
    if not c.anonymous:
        # Anonymous suggestions get no audit row: its actor column would reveal the author to staff.
        record("feedback.file", "complaint", c.id, site_id=site.id, kind=c.kind, category=c.category, photos=len(photos))
    return c


def _require_open(c):
    if c.status not in OPEN_STATUSES:
        raise ApiError(409, "not_open", "This feedback is resolved or closed; reopen it first.")


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
        raise ApiError(
            400,
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
        raise ApiError(409, "response_required", "Answer the resident before resolving or closing.")
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
        raise ApiError(409, "not_resolved", "Only resolved feedback can be closed.")
    if c.first_response_at is None or sla.needs_response(c):
        raise ApiError(409, "response_required", "Answer the resident before resolving or closing.")
    c.status = "closed"
    c.closed_at = utcnow()
    _event(c, by, "close")
    record("feedback.close", "complaint", c.id, site_id=c.site_id)
    from portal.feedback import surveys

    surveys.send_complaint_survey(c)


def reopen(c, by, reason):
    """Back to work: the clocks restart and a fresh answer is needed before resolving again."""
    if c.status not in ("resolved", "closed"):
        raise ApiError(409, "not_resolved", "Only resolved or closed feedback can be reopened.")
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
        raise ApiError(409, "not_resolved", "The follow-up visit comes after the resolution.")
    if outcome not in ("solved", "not_solved", "unreachable"):
        raise ApiError(
            400,
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
        raise ApiError(409, "task_done", "This follow-up is already done.")
    if task.kind == "visit" and task.complaint is not None and task.complaint.status == "resolved":
        return follow_up(task.complaint, by, outcome, note)
    _finish(task, by, outcome, note)
    if task.complaint is not None and outcome == "not_solved" and task.complaint.status in ("resolved", "closed"):
        reopen(task.complaint, by, note)
    return task


def mark_seen(c):
    """The resident opened the thread: answers so far are no longer new."""
    c.resident_seen_at = utcnow()
