"""Background jobs of passes: the hourly retention purge."""

from portal.core.jobs import job
from portal.extensions import db
from portal.passes.operations import purge_ended
from portal.privacy.operations import purge_without_pass


@job("passes_retention", every_seconds=3600)
def retention_job(app):
    """Hourly: erase visitor data of passes (and of walk-ins, items and events without one) past retention, in batches."""
    while purge_ended():
        db.session.commit()
    while purge_without_pass():
        db.session.commit()
    db.session.commit()
