"""SMS notifications through an outbox."""

import logging

log = logging.getLogger(__name__)


def init_app(app):
    """Load models, register the outbox job and the `notify` commands."""
    from portal.core.jobs import job
    from portal.notify import models  # noqa: F401
    from portal.notify.backends import BACKENDS
    from portal.notify.worker import notify_cli, outbox_job

    job("sms_outbox", every_seconds=1)(outbox_job)
    app.cli.add_command(notify_cli)
    backend = app.config.get("SMS_BACKEND") or "console"
    if backend not in BACKENDS:
        log.error("SMS_BACKEND=%r is unknown (use one of %s); the outbox will not send", backend, sorted(BACKENDS))
    elif backend == "twilio" and not (
        app.config.get("TWILIO_ACCOUNT_SID")
        and app.config.get("TWILIO_AUTH_TOKEN")
        and (app.config.get("TWILIO_FROM") or app.config.get("TWILIO_MESSAGING_SERVICE_SID"))
    ):
        log.error(
            "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID"
        )
