"""Gate endpoints: the verify call readers make."""

import contextlib
import json
import logging
import time

from flask import current_app, request
from sqlalchemy.exc import DBAPIError

from portal.api.blueprint import api_route
from portal.core import jsonbody, metrics
from portal.core.errors import ApiError, ValidationFailed
from portal.devices import api_tokens as device_tokens
from portal.events import journal
from portal.extensions import csrf, db, limiter
from portal.gate import cache as decision_cache
from portal.gate import decisions, errlog, queries, spool, texts
from portal.gate.rules import deny
from portal.passes.qrtext import TokenError

log = logging.getLogger(__name__)
METHODS = ("qr", "code", "plate")
# A QR text is 140 characters; 64 KiB leaves room for junk (10,000 escaped characters) we must deny, not crash on.
MAX_VERIFY_BYTES = 64 * 1024

VERIFY_BODY = {
    "type": "object",
    "description": "Exactly one of qr, code or plate.",
    "properties": {
        "qr": {"type": "string", "description": "The scanned QR text"},
        "code": {"type": "string", "description": "Typed digits: 5-digit pass number + 6-digit code", "example": "04217382910"},
        "plate": {"type": "string", "description": "Licence plate as read by the camera", "example": "京A12345"},
        "direction": {"type": "string", "enum": ["in", "out"]},
    },
}
VERIFY_ANSWER = {
    "description": "The decision; never a grant unless every check passed",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["decision", "reason", "floors", "message", "display"],
                "properties": {
                    "decision": {"type": "string", "enum": ["grant", "deny"]},
                    "reason": {"type": "string", "enum": sorted(texts.TEXTS)},
                    "pass_id": {"type": "integer"},
                    "floors": {"type": "array", "items": {"type": "integer"}},
                    "message": {"type": "object", "properties": {"en": {"type": "string"}, "zh": {"type": "string"}}},
                    "display": {"type": "string", "description": "Short line for the reader's screen"},
                },
            }
        }
    },
}


def _verify_request():
    try:
        data = jsonbody.json_body(MAX_VERIFY_BYTES)
    except ApiError as exc:
        if exc.status == 413:
            raise ApiError(400, "too_large", "The request body is too large.") from None
        raise
    return verify_fields(data)


def verify_fields(data):
    """(method, value, direction) of a verify body's JSON object, or 400 naming what is wrong."""
    given = [name for name in METHODS if data.get(name) is not None]
    if len(given) != 1:
        raise ValidationFailed({"qr": ("one_method", "Send exactly one of qr, code or plate.")})
    method = given[0]
    fields = {}
    if not isinstance(data[method], str):
        fields[method] = ("invalid", "This field must be text.")
    direction = data.get("direction")
    if direction is not None and not (isinstance(direction, str) and direction in ("in", "out")):
        fields["direction"] = ("invalid_direction", 'The direction is "in" or "out".')
    if fields:
        raise ValidationFailed(fields)
    return method, data[method], direction


def _reconnecting(read):
    """read(); a connection the server dropped (restart) is replaced once, not turned into a 500.

    There is no pool_pre_ping (see portal.core.connections): the token select is often the first statement on
    a connection, and SQLAlchemy has already invalidated the connection when it reports the disconnect.
    """
    try:
        return read()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        # Not a refusal (those end in portal.core.transaction): the dead connection's transaction must end before the retry.
        db.session.rollback()
        return read()


def _authenticate(presented):
    """The device whose token hashes to presented, or 401."""
    return _reconnecting(lambda: device_tokens.authenticate(presented))


def _device_and_prefetch(presented, method, value, direction):
    """(device, prefetched): for a QR whose signature checks, the token and the pass in ONE select.

    The signature is checked before the token is looked up (pure computation; its result is used only
    once the token has passed). If the joint read fails, the decision reads the pass itself, inside
    its fail-closed boundary.
    """
    if method != "qr":
        return _authenticate(presented), None
    try:
        # Before the signature: on SQLite, reading the change counter also drops a key set a retirement outdated.
        cache = decision_cache.fresh(current_app)
        signed = decisions.signed_qr(value)  # reads the signing keys when their 30 s cache ran out
        if isinstance(signed, TokenError):
            return _authenticate(presented), (signed, None)
        usable = cache if direction is None else None  # a scan with a direction moves anti-passback: always read
        device, row = _reconnecting(lambda: queries.device_and_pass(presented, signed.pass_id, usable))
    except ApiError:
        raise
    except Exception as exc:
        errlog.log_failure(log, logging.WARNING, "gate joint read failed, deciding with separate reads", exc)
        db.session.rollback()  # not a refusal: a failed statement poisons its transaction, and the reads go on
        return _authenticate(presented), None
    return device, (signed, row)


def decide(presented, method, value, direction, started):
    """The outcome of a well-formed verify call whose token hashes to presented; 401 before anything is done."""
    try:
        device, prefetched = _device_and_prefetch(presented, method, value, direction)
    except ApiError:
        raise
    except Exception as exc:
        return _unattributed(exc, presented, method, direction, started)
    outcome = decisions.verify(device, method, value, direction, started, prefetched)
    spool.hand_over()  # attempts of an outage get their device now that tokens are readable
    return outcome


# The direct path's 401 for a token that did not authenticate, handed to the view (one token read, not two).
_REFUSED = "portal.gate.refused_token"


def _direct(environ, raw):
    """The verify call answered straight from WSGI (portal.core.direct); None: the view answers it.

    Only an ordinary call gets here: a JSON object with one method and a device token that authenticates.
    Everything else (bad JSON, a missing or unknown token) returns None before anything is done, and the
    view gives the same 400 or 401 it always has.
    """
    started = time.perf_counter()
    try:
        data = jsonbody.loads(raw)
        if not isinstance(data, dict):
            return None
        method, value, direction = verify_fields(data)
        presented = device_tokens.bearer_hash(environ.get("HTTP_AUTHORIZATION", ""))
    except (ValueError, RecursionError, ApiError):
        return None
    try:
        outcome = decide(presented, method, value, direction, started)
    except ApiError as refused:  # the token does not authenticate: raised before anything was decided or written
        environ[_REFUSED] = refused  # the view answers it as its own 401 without reading the token again
        return None
    return _answer_body(outcome, method, started).encode(), journal.journal().flush_if_due


@api_route(
    "/gate/verify",
    methods=("POST",),
    summary="Decide whether a gate opens",
    tag="gate",
    auth="device",
    direct=_direct,
    body=VERIFY_BODY,
    responses={"200": VERIFY_ANSWER},
)
@csrf.exempt  # devices authenticate with a bearer token only; cookies are never read here
# Not by client address: a site's readers often share one NAT address, and one busy gate must not
# throttle the others. Keypad guesses are throttled per device and per pass instead (gate.throttle).
@limiter.exempt
def gate_verify():
    """A reader, keypad or barrier asks whether to open; the answer is grant or deny with a reason."""
    started = time.perf_counter()
    refused = request.environ.get(_REFUSED)
    if refused is not None:
        raise refused
    try:
        method, value, direction = _verify_request()
    except ApiError as bad_body:
        try:
            # A missing or wrong token answers 401 before anything is said about the body.
            _authenticate(device_tokens.bearer_hash())
        except ApiError:
            raise
        except Exception as exc:
            return _answer(_unattributed(exc, None, None, None, started), None, started)
        raise bad_body from None
    outcome = decide(device_tokens.bearer_hash(), method, value, direction, started)
    return _answer(outcome, method, started)


def _unattributed(exc, presented, method, direction, started):
    """The device token could not be checked (the database is unreachable): deny / error, fail closed.

    The attempt is spooled with the token's hash and recorded once its device can be read again
    (portal.gate.spool); a malformed body (method None) is not an attempt and is not recorded.
    """
    with contextlib.suppress(Exception):
        db.session.rollback()  # not a refusal: the failed read's transaction ends before the spool and the deny
    errlog.log_failure(log, logging.ERROR, "gate token lookup failed closed", exc, method=method or "-")
    if method is not None:
        spool.keep(presented, method, direction, started, type(exc).__name__)
    return deny("error")


def _answer(outcome, method, started):
    return current_app.response_class(_answer_body(outcome, method, started), content_type="application/json")


def _answer_body(outcome, method, started):
    """The answer's JSON text, counted in the metrics."""
    decision, reason, message, display = _answer_parts(outcome.decision, outcome.reason)
    # A refused keypad code never names its pass: that would tell a guesser which numbers are live.
    pass_id = outcome.pass_id if outcome.pass_id is not None and (outcome.granted or method != "code") else None
    # The JSON jsonify would write (keys sorted, compact, ASCII), from parts encoded once per reason.
    body = (
        f'{{"decision":{decision},"display":{display},"floors":{_ENCODE(outcome.floors)},"message":{message},'
        f'{"" if pass_id is None else f""""pass_id":{int(pass_id)},"""}"reason":{reason}}}\n'
    )
    metrics.gate_decision(outcome.decision, outcome.reason, started)
    return body


_ENCODE = json.JSONEncoder(ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode


def _answer_parts(decision, reason):
    """The JSON of the decision, the reason, its bilingual message and display line; once per app and reason."""
    cache = current_app.extensions.setdefault("gate_answer_parts", {})
    found = cache.get((decision, reason))
    if found is None:
        message, display = texts.for_reason(reason)
        found = cache[(decision, reason)] = (_ENCODE(decision), _ENCODE(reason), _ENCODE(message), _ENCODE(display))
    return found
