"""SMS backends: the console, and Twilio (portal.notify.twilio_sms, loaded only when it is the backend)."""

import logging
import secrets
import threading

from portal.core.redact import mask
from portal.core.validators import mask_phone
from portal.notify.sms import SendResult

log = logging.getLogger(__name__)


def redact(body, limit=120):
    """A loggable form of a message body: secrets truncated, length capped."""
    text = mask(body)
    return text if len(text) <= limit else text[:limit] + "…"


class ConsoleBackend:
    """Logs the message instead of sending: in development whole (the links must be clickable), else masked."""

    name = "console"

    def __init__(self, config):
        self.config = config
        self.whole = bool(config.get("DEMO_MODE"))  # `make run` only; production logs never hold a working link

    def send(self, to, body, status_callback=None):
        """Log and report success with a made-up id."""
        provider_id = "console-" + secrets.token_hex(8)
        if self.whole:
            print(f"SMS to {mask_phone(to)} ({provider_id}):\n{body}\n", flush=True)  # noqa: T201 - the developer's inbox
        else:
            log.info("sms console id=%s to=%s body=%r", provider_id, mask_phone(to), redact(body))
        return SendResult(provider_id)


def _twilio(config):
    """The Twilio backend, its client loaded only when it is used (a tenth of a gunicorn worker's start)."""
    from portal.notify.twilio_sms import TwilioBackend

    return TwilioBackend(config)


BACKENDS = {"console": ConsoleBackend, "twilio": _twilio}


SETTINGS = (
    "SMS_BACKEND",
    "SMS_TIMEOUT_SECONDS",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "TWILIO_MESSAGING_SERVICE_SID",
    "TWILIO_API_BASE",
)


def get_backend(app):
    """The backend named by SMS_BACKEND, kept per app and thread (connection reuse) until its settings change."""
    name = app.config.get("SMS_BACKEND") or "console"
    if name not in BACKENDS:
        raise ValueError(f"unknown SMS_BACKEND {name!r}; use one of {sorted(BACKENDS)}")
    key = tuple(app.config.get(k) for k in SETTINGS)
    # requests sessions are not guaranteed thread-safe, so threads do not share one.
    cache = app.extensions.setdefault("sms_backends", {})
    cached = cache.get(threading.get_ident())
    if cached is None or cached[0] != key:
        cached = cache[threading.get_ident()] = (key, BACKENDS[name](app.config))
    return cached[1]
