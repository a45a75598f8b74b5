"""Twilio's delivery-status callback: signed by Twilio, not by a user, so no session and no CSRF."""

import logging

from flask import current_app, jsonify, request
from twilio.request_validator import RequestValidator

from portal.api.blueprint import api_route
from portal.core.errors import ApiError
from portal.extensions import csrf
from portal.notify import operations
from portal.notify.operations import STATUS_CALLBACK_PATH

log = logging.getLogger(__name__)


def _public_url():
    """The URL Twilio called and signed: behind a proxy only PUBLIC_BASE_URL knows it."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base.rstrip("/") + request.path + (f"?{query}" if query else "")


def _verified():
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(_public_url(), request.form.to_dict(), signature)


@api_route(
    STATUS_CALLBACK_PATH.removeprefix("/api/v1"),
    methods=("POST",),
    tag="sms",
    auth="none",
    summary="Twilio delivery status callback (form-encoded, X-Twilio-Signature)",
    responses={
        "200": {"description": "Recorded, or nothing to do (unknown or stale report)"},
        "403": {"$ref": "#/components/responses/Error"},
    },
)
@csrf.exempt
def twilio_status():
    """Record delivered/undelivered/failed; unknown message ids answer 200 so Twilio does not log errors."""
    if not _verified():
        log.warning("twilio status callback with a bad or missing signature from %r", request.remote_addr)
        raise ApiError(403, "bad_signature", "The request signature is not valid.")
    sid = request.form.get("MessageSid") or request.form.get("SmsSid")
    msg = operations.find_by_provider_id(sid)
    if msg is None:
        log.info("twilio status for unknown message %r ignored", (sid or "")[:40])
        return jsonify({"ok": True, "updated": False})
    changed = operations.apply_provider_status(msg, request.form.get("MessageStatus"), request.form.get("ErrorCode"))
    return jsonify({"ok": True, "updated": changed, "status": msg.status})
