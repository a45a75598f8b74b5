"""The incident escalation job, run by `flask --app wsgi worker run`."""

import logging

from portal.incidents.escalation import escalate_due

log = logging.getLogger(__name__)


def register():
    """Register the job with the worker."""
    from portal.core.jobs import job

    @job("incidents_escalate", 30)
    def incidents_escalate(app):
        """Escalate unacknowledged high and critical incidents, each step once."""
        made = escalate_due()
        if made:
            log.info("escalated %d incident steps", len(made))
