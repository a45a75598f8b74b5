"""The job that offers unanswered incidents and alarms to everyone on shift after the nearest guards had a minute."""

import logging

from portal.shifts.operations import widen_offers

log = logging.getLogger(__name__)


def register():
    """Register the job with the worker."""
    from portal.core.jobs import job

    @job("shifts_widen_offers", 10)
    def shifts_widen_offers(app):
        """Widen offers nobody answered."""
        made = widen_offers()
        if made:
            log.info("offered %d unanswered items to everyone on shift", len(made))
