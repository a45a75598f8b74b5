"""Reading the audit trail."""

from portal.audit.models import AuditEntry
from portal.extensions import db

PAGE_SIZE = 50
EXPORT_MAX = 10000


def search(scope, actor=None, action=None, object_type=None, object_id=None, since=None, until=None):
    """The query of entries within scope (an SQL condition on AuditEntry.site_id) matching the filters, newest first.

    actor is a user id or one of "system", "device", "visitor"; an action ending in "." matches its whole family.
    """
    q = db.select(AuditEntry).where(scope)
    if isinstance(actor, int):
        q = q.where(AuditEntry.actor_id == actor)
    elif actor:
        q = q.where(AuditEntry.actor_kind == actor)
    if action:
        q = q.where(AuditEntry.action.startswith(action) if action.endswith(".") else AuditEntry.action == action)
    if object_type:
        q = q.where(AuditEntry.object_type == object_type)
    if object_id:
        q = q.where(AuditEntry.object_id == object_id)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    if until is not None:
        q = q.where(AuditEntry.at < until)
    return q.order_by(AuditEntry.id.desc())


def page_of(q, page):
    """One page of a search and whether another follows."""
    rows = db.session.scalars(q.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def distinct_values(scope, column, limit=300):
    """The values a filter can take (actions, object types) within scope."""
    q = db.select(column).where(scope, column.is_not(None)).distinct().order_by(column).limit(limit)
    return db.session.scalars(q).all()
