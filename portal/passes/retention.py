"""Retention: a visitor's personal data is erased a configurable time after the pass ends."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, update

from portal.audit.operations import record
from portal.core.jobs import job
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.notify.models import Message
from portal.passes.models import Pass

PURGED_NAME = "—"


def _anonymise(ids, now):
    # Access events keep the pass id, decision and reason (no personal data) for the reports.
    db.session.execute(update(Pass).where(Pass.id.in_(ids)).values(
        visitor_name=PURGED_NAME, visitor_phone=None, visitor_phone_idx=None, visitor_id_number=None,
        visitor_id_idx=None, plate=None, company=None, work_area=None, note=None, purged_at=now))
    db.session.execute(delete(Message).where(Message.pass_id.in_(ids)))


def erase_now(p, reason):
    """Erasure on request: revoke the pass (devices drop it) and erase the visitor's data at once."""
    from portal.passes.operations import revoke_pass

    revoke_pass(p, reason="erasure requested")
    db.session.flush()
    _anonymise([p.id], utcnow())
    record("pass.erase", "pass", p.id, site_id=p.site_id, reason=reason)
    db.session.expire(p)
    return p


def purge_ended(now=None, batch=500):
    """Anonymise passes that ended RETENTION_DAYS ago; safe to run again. Returns the pass ids."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["RETENTION_DAYS"])
    ended = or_(Pass.valid_until < cutoff, Pass.revoked_at < cutoff)
    ids = db.session.scalars(db.select(Pass.id).where(ended, Pass.purged_at.is_(None)).limit(batch)).all()
    if not ids:
        return []
    _anonymise(ids, now)
    record("pass.purge", "pass", None, pass_ids=ids, retention_days=current_app.config["RETENTION_DAYS"])
    return ids


@job("passes_retention", every_seconds=3600)
def retention_job(app):
    """Hourly: erase visitor data of passes past retention, in batches."""
    while purge_ended():
        db.session.commit()
    db.session.commit()
