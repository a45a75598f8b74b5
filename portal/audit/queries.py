"""Reading the audit trail."""

from portal.audit.models import AuditEntry
from portal.extensions import db


def entries_for(object_type, object_id, limit=100):
    """Latest entries about one object."""
    q = (
        db.select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return db.session.scalars(q).all()


def site_entries(site_id, limit=200):
    """Latest entries of a site."""
    q = db.select(AuditEntry).where(AuditEntry.site_id == site_id).order_by(AuditEntry.id.desc()).limit(limit)
    return db.session.scalars(q).all()
