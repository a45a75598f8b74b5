"""SMS backends (console, Twilio) and the boundary where vendor errors become our own."""

import logging
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from portal.core.redact import mask
from portal.core.validators import mask_phone

log = logging.getLogger(__name__)


def N_(msgid):
    """Mark an English msgid for extraction (pybabel knows N_); it is translated when shown."""
    return msgid


class SmsError(Exception):
    """A send failed; code is the vendor's code when it gave one, else one of ours."""

    def __init__(self, code, message):
        super().__init__(code)
        self.code = str(code)
        self.message = message  # an English msgid without personal data, shown to the resident


class PermanentFailure(SmsError):
    """Sending this message again will not help (bad number, opted out, refused)."""


class TransientFailure(SmsError):
    """Try again later (network, provider outage, rate limit, credentials being fixed)."""


@dataclass
class SendResult:
    """What a backend reports for an accepted message."""

    provider_id: str
    status: str = "sent"


# Twilio error codes about the recipient or the message itself: retrying cannot help.
# https://www.twilio.com/docs/api/errors
PERMANENT_CODES = {
    21211: N_("The phone number is not valid."),
    21214: N_("The phone number is not valid."),
    21217: N_("The phone number is not valid."),
    21408: N_("SMS to this country or region is not enabled."),
    21610: N_("The recipient has unsubscribed from our SMS (replied STOP)."),
    21612: N_("This number cannot be reached by SMS."),
    21614: N_("This number is not a mobile number and cannot receive SMS."),
    21617: N_("The message is too long."),
    21635: N_("This number is not a mobile number and cannot receive SMS."),
}
# Codes that come back in status callbacks (the message was accepted, then not delivered).
DELIVERY_CODES = {
    30003: N_("The phone is switched off or out of reach."),
    30004: N_("The recipient blocks messages."),
    30005: N_("The number does not exist."),
    30006: N_("This number is a landline or cannot receive SMS."),
    30007: N_("The carrier filtered the message."),
    30008: N_("The SMS could not be delivered."),
    21610: PERMANENT_CODES[21610],
}
NOT_DELIVERED = N_("The SMS could not be delivered.")
REFUSED = N_("The SMS provider refused the message.")
UNREACHABLE = N_("The SMS provider could not be reached; it will be tried again.")
PROVIDER_ERROR = N_("The SMS provider had an error; it will be tried again.")
RATE_LIMITED = N_("The SMS provider is busy; it will be tried again.")
BAD_CREDENTIALS = N_("The SMS provider refused our credentials; it will be tried again.")
NOT_CONFIGURED = N_("SMS sending is not configured.")
INTERNAL = N_("Sending failed on our side; it will be tried again.")
GAVE_UP = N_("The SMS could not be sent after several attempts.")
PASS_REVOKED = N_("The pass was revoked before the SMS went out, so it was not sent.")


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


class RedirectingHttpClient(TwilioHttpClient):
    """The real Twilio HTTP client, sending to another scheme+host (tests, self-hosted gateways)."""

    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        """Rewrite scheme and host, keep path and query."""
        parts = urlsplit(url)
        url = urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


class TwilioBackend:
    """Sends through Twilio's Messages API with the official client."""

    name = "twilio"

    def __init__(self, config):
        self.sid = config.get("TWILIO_ACCOUNT_SID")
        self.token = config.get("TWILIO_AUTH_TOKEN")
        self.sender = config.get("TWILIO_FROM")
        self.service = config.get("TWILIO_MESSAGING_SERVICE_SID")
        timeout = float(config.get("SMS_TIMEOUT_SECONDS", 10))
        base = config.get("TWILIO_API_BASE")
        http = RedirectingHttpClient(base, timeout=timeout) if base else TwilioHttpClient(timeout=timeout)
        self.client = Client(self.sid, self.token, http_client=http) if self.sid and self.token else None

    def send(self, to, body, status_callback=None):
        """Create the message at Twilio; vendor errors leave as PermanentFailure or TransientFailure."""
        if self.client is None or not (self.sender or self.service):
            raise TransientFailure("not_configured", NOT_CONFIGURED)
        kwargs = {"to": to, "body": body}
        if self.service:
            kwargs["messaging_service_sid"] = self.service
        else:
            kwargs["from_"] = self.sender
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            created = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise translate_rest_error(exc) from exc
        except requests.RequestException as exc:
            raise TransientFailure("network", UNREACHABLE) from exc
        except TwilioException as exc:
            raise TransientFailure("provider_error", PROVIDER_ERROR) from exc
        return SendResult(created.sid)


def translate_rest_error(exc):
    """Map a Twilio REST error to our permanent/transient vocabulary."""
    code, status = exc.code, exc.status or 0
    if code in PERMANENT_CODES:
        return PermanentFailure(code, PERMANENT_CODES[code])
    if status == 429 or code == 20429:
        return TransientFailure(code or "rate_limited", RATE_LIMITED)
    if status in (401, 403) or code == 20003:
        return TransientFailure(code or "provider_auth", BAD_CREDENTIALS)
    if status >= 500 or status == 0:
        return TransientFailure(code or f"http_{status}", PROVIDER_ERROR)
    return PermanentFailure(code or f"http_{status}", REFUSED)


BACKENDS = {"console": ConsoleBackend, "twilio": TwilioBackend}


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
