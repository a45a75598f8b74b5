"""Background jobs: escalate overdue items to the managers, and send visit surveys for ended passes."""

import logging

from sqlalchemy.exc import IntegrityError

from portal.audit.operations import record
from portal.core.i18n import N_
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.feedback import notices, operations, queries, sla
from portal.feedback.models import OPEN_STATUSES, Complaint, ComplaintMessage, Escalation, FollowUp
from portal.sites.models import Site

log = logging.getLogger(__name__)


def _escalate(site, kind, due_at, complaint=None, task=None):
    """One escalation row per item, kind and deadline; managers are told once. Returns the row or None."""
    try:
        with db.session.begin_nested():
            row = Escalation(
                site_id=site.id,
                complaint_id=complaint.id if complaint else None,
                follow_up_id=task.id if task else None,
                kind=kind,
                due_at=due_at,
            )
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        return None  # already escalated (by an earlier run or another worker)
    managers = queries.managers(site.id)
    what, item_id = (N_("feedback"), complaint.id) if complaint else (N_("follow-up"), task.id)
    for manager in managers:
        notices.escalated(manager, site, what, item_id, kind)
    row.notified = [m.id for m in managers]
    if complaint is not None:
        db.session.add(
            ComplaintMessage(
                complaint_id=complaint.id,
                author_role="system",
                kind="event",
                internal=True,
                details={"action": "escalate", "kind": kind},
            )
        )
    record(
        "feedback.escalate", "complaint" if complaint else "follow_up", item_id, site_id=site.id, kind=kind, managers=row.notified
    )
    return row


def escalate_overdue(now=None):
    """Find overdue filings and follow-ups and escalate each once. Commits; returns the new escalations."""
    now = now or utcnow()
    made = []
    late = db.select(Complaint).where(
        Complaint.status.in_(OPEN_STATUSES), (Complaint.due_response_at < now) | (Complaint.due_resolution_at < now)
    )
    for c in db.session.scalars(late.order_by(Complaint.id).limit(1000)).all():
        for kind in sorted(sla.overdue(c, now)):
            due = c.due_response_at if kind == "response" else c.due_resolution_at
            row = _escalate(c.site, kind, due, complaint=c)
            if row is not None:
                made.append(row)
    tasks = db.select(FollowUp).where(FollowUp.status == "open", FollowUp.due_at < now)
    for task in db.session.scalars(tasks.order_by(FollowUp.id).limit(1000)).all():
        row = _escalate(db.session.get(Site, task.site_id), "follow_up", task.due_at, task=task)
        if row is not None:
            made.append(row)
    db.session.commit()
    return made


def register():
    """Register the jobs with the worker."""
    from portal.core.jobs import job

    @job("feedback_sla", 60)
    def feedback_sla(app):
        """Escalate what ran over its deadline."""
        made = escalate_overdue()
        if made:
            log.info("escalated %d overdue feedback items", len(made))

    @job("feedback_surveys", 300)
    def feedback_surveys(app):
        """Ask hosts about visits that ended."""
        made = operations.scan_ended_passes()
        if made:
            log.info("sent %d visit surveys", len(made))
