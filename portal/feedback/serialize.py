"""JSON shapes of filings, threads, tasks and surveys; identity hidden from staff on anonymous filings."""

from flask import url_for

from portal.core.timeutil import utcnow
from portal.feedback import sla
from portal.feedback.queries import thread, unread


def _iso(value):
    return value.isoformat() if value else None


def author_json(c, viewer):
    """Who filed it, or None when staff look at an anonymous suggestion."""
    if c.anonymous and viewer.id != c.author_id:
        return None
    return {"id": c.author_id, "name": c.author.display_name, "unit": c.unit.label if c.unit else None}


def message_json(m, c, viewer):
    """One thread entry."""
    if m.author_role == "resident":
        author = None if (c.anonymous and viewer.id != c.author_id) else m.author.display_name
    elif m.author is not None and viewer.is_staff:
        author = m.author.display_name
    else:
        author = None  # residents see "the security team", not a guard's name
    return {
        "id": m.id,
        "kind": m.kind,
        "author_role": m.author_role,
        "author": author,
        "body": m.body,
        "internal": m.internal,
        "details": m.details if m.kind == "event" else None,
        "at": _iso(m.created_at),
    }


def complaint_json(c, viewer, with_thread=False):
    """A filing as the viewer may see it."""
    now = utcnow()
    out = {
        "id": c.id,
        "kind": c.kind,
        "anonymous": c.anonymous,
        "category": c.category,
        "location": c.location,
        "description": c.description,
        "status": c.status,
        "priority": c.priority,
        "source": c.source,
        "author": author_json(c, viewer),
        "created_at": _iso(c.created_at),
        "first_response_at": _iso(c.first_response_at),
        "resolved_at": _iso(c.resolved_at),
        "closed_at": _iso(c.closed_at),
        "reopen_count": c.reopen_count,
        "photos": [
            {
                "id": p.id,
                "content_type": p.content_type,
                "width": p.width,
                "height": p.height,
                "url": url_for("api.complaint_photo", complaint_id=c.id, photo_id=p.id),
            }
            for p in c.photos
        ],
    }
    if viewer.is_staff:
        out.update(
            assignee=({"id": c.assignee.id, "name": c.assignee.display_name} if c.assignee else None),
            due_response_at=_iso(c.due_response_at),
            due_resolution_at=_iso(c.due_resolution_at),
            overdue=sorted(sla.overdue(c, now)),
        )
    else:
        out["unread"] = unread(c)
    if with_thread:
        out["messages"] = [message_json(m, c, viewer) for m in thread(c, viewer)]
    return out


def follow_up_json(task, viewer):
    """A follow-up task for the team."""
    person = None
    if task.survey is not None and not (task.complaint is not None and task.complaint.anonymous):
        person = {"id": task.survey.user_id, "name": task.survey.user.display_name}
    return {
        "id": task.id,
        "kind": task.kind,
        "status": task.status,
        "complaint_id": task.complaint_id,
        "survey": (
            {
                "id": task.survey.id,
                "kind": task.survey.kind,
                "score": task.survey.score,
                "comment": task.survey.comment,
                "pass_id": task.survey.pass_id,
            }
            if task.survey
            else None
        ),
        "person": person,
        "due_at": _iso(task.due_at),
        "overdue": task.status == "open" and utcnow() > task.due_at,
        "outcome": task.outcome,
        "note": task.note,
        "done_at": _iso(task.done_at),
    }


def survey_json(s):
    """What the public survey endpoint tells the link's holder."""
    return {
        "kind": s.kind,
        "locale": s.locale,
        "expires_at": _iso(s.expires_at),
        "answered": s.answered_at is not None,
        "score": s.score,
    }
