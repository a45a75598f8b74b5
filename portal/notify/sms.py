"""What sending an SMS can answer, in our own words: results, failures and their messages, vendor codes mapped."""

from dataclasses import dataclass

from portal.core.i18n import N_


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
