"""The Twilio backend: Twilio's own client, with its errors translated at this boundary (portal.notify.sms)."""

from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from portal.notify.sms import (
    NOT_CONFIGURED,
    PROVIDER_ERROR,
    UNREACHABLE,
    SendResult,
    TransientFailure,
    translate_rest_error,
)


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
