"""Reading JSON request bodies without ever raising a 500."""

import json

from flask import request

from portal.core.errors import ApiError

MAX_JSON_BYTES = 64 * 1024


def json_body(max_bytes=MAX_JSON_BYTES):
    """The request's JSON object, or a 400 that says what is wrong with it."""
    if request.content_length and request.content_length > max_bytes:
        raise ApiError(413, "too_large", "The request body is too large.")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise ApiError(413, "too_large", "The request body is too large.")
    try:
        data = loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting, still only bad JSON
        raise ApiError(400, "bad_json", "The request body must be valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "The request body must be a JSON object.")
    return data


def json_or_none(raw):
    """The decoded JSON of raw bytes, or None when it is not JSON (the view's json_body says why)."""
    try:
        return loads(raw)
    except (ValueError, RecursionError):
        return None


def loads(raw):
    """JSON from bytes that must be UTF-8 (RFC 8259; a leading BOM is ignored); ValueError otherwise.

    json.loads on bytes would also take UTF-16 and UTF-32 and let lone surrogates through as raw
    bytes, past the bad-character check that looks for them as escapes.
    """
    return json.loads(raw.decode("utf-8-sig"))
