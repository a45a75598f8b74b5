"""The three ways in (QR, keypad code, plate) as decision flows; time comes from clock() only."""

import contextlib
import logging
import time
from collections import OrderedDict

from flask import current_app

from portal.core.timeutil import as_utc, utcnow
from portal.core.validators import normalise_plate
from portal.extensions import db
from portal.gate import errlog, operations, queries, rules, throttle
from portal.gate.rules import Outcome, deny, grant
from portal.passes import codes, keys, qrtext
from portal.sites import settings as site_settings
from portal.sites.models import Site
from portal.watchlist import matching

log = logging.getLogger(__name__)


def clock():
    """Now, as aware UTC; tests replace this one function to move time."""
    return utcnow()


def _admit(row, device, now, direction):
    """Rules first, then the atomic write that settles races. row is (pass, watchlist hit)."""
    p, watch_hit = row
    reason = rules.precheck(p, device, now, direction, watch_hit)
    if reason is None and p.max_entries is None and direction is None:
        # No limit and no direction: nothing to settle between racing gates, so nothing to write
        # before answering; the use is counted with the event (portal.events.journal).
        return grant(p, count_use=True)
    if reason is None:
        reason = operations.consume(p.id, direction)
    if reason is None:
        return grant(p)
    return _watch_details(deny(reason, p), watch_hit)


def _watch_details(outcome, watch_hit):
    if outcome.reason == "watchlisted":
        outcome.details["watchlist_entry_id"] = watch_hit
    return outcome


# Texts whose signature checked, with the key set that checked them. A reader decodes a code held under
# it several times a second, and each read would cost an Ed25519 verification; a text is
# a signed fact, so it is only checked again once the key set was reloaded (every 30 s, or a retirement).
# The clock checks (step, window) and everything about the pass still run on every scan.
_VERIFIED = OrderedDict()
_VERIFIED_MAX = 4096


def signed_qr(text):
    """The claims of a QR text whose signature checks, or the TokenError saying why not (no clock yet)."""
    keyset = keys.public_keys()
    known = _VERIFIED.get(text)
    if known is not None and known[0] is keyset:
        return known[1]
    try:
        claims = qrtext.signed_claims(text, keyset)
    except qrtext.TokenError as exc:
        return exc
    if not current_app.config.get("GATE_CACHE", True):
        return claims  # GATE_CACHE=0: every scan is checked from scratch
    if len(_VERIFIED) >= _VERIFIED_MAX:
        with contextlib.suppress(KeyError):  # another thread emptied it first
            _VERIFIED.popitem(last=False)  # the oldest; one C call, safe between threads
    _VERIFIED[text] = (keyset, claims)
    return claims


_UNREAD = object()


def decide_qr(device, text, direction, now, prefetched=None):
    """A scanned QR: signature first (before any field is trusted), then the pass.

    prefetched is (signed_qr(text), pass row) when the API read the pass with the device's token.
    """
    signed, row = prefetched if prefetched is not None else (signed_qr(text), _UNREAD)
    if isinstance(signed, qrtext.TokenError):
        return deny(signed.reason)
    try:
        qrtext.check_claims(signed, now.timestamp(), expected_site=device.site_id)
    except qrtext.TokenError as exc:
        return deny(exc.reason)
    if row is _UNREAD:
        row = queries.pass_for_qr(signed.pass_id)
    if row is None or row[0].site_id != signed.site_id:
        return deny("unknown")
    return _admit(row, device, now, direction)


def decide_code(device, text, direction, now):
    """A keypad entry: pass number + TOTP, each accepted code works once, guesses are throttled.

    Only wrong codes for a live pass number count as guesses (per keypad and per pass); garbage only
    feeds the desk's burst alert, so mashing a keypad never locks its visitors out (gate.throttle).
    """
    if not site_settings.value(db.session.get(Site, device.site_id), "keypad_codes"):
        return deny("keypad_off")  # the manager turned keypad codes off: QR and plates still work
    gate_throttle = throttle.current()
    if gate_throttle.device_blocked(device.id):
        return deny("throttled")  # every entry alike: a blocked keypad does not tell which numbers are live
    digits = rules.keypad_digits(text)
    if digits is None:
        return _failed(gate_throttle, device, None)
    number, otp = digits[: codes.KEYPAD_NO_DIGITS], digits[codes.KEYPAD_NO_DIGITS :]
    rows = queries.passes_for_keypad(device.site_id, number, now)
    open_rows = [row for row in rows if not gate_throttle.pass_blocked(row[0].id)]
    if rows and not open_rows:
        return deny("throttled", rows[0][0])
    now_ts = now.timestamp()
    for row in open_rows:
        p, watch_hit = row
        step = rules.matching_step(p.otp_secret, otp, now_ts)
        if step is None:
            continue
        if step <= p.otp_last_step:
            return _failed(gate_throttle, device, p, "replayed")
        reason = rules.precheck(p, device, now, direction, watch_hit)
        if reason is not None:
            return _watch_details(deny(reason, p), watch_hit)
        if not operations.advance_step(p.id, step):
            return _failed(gate_throttle, device, p, "replayed")
        reason = operations.consume(p.id, direction)
        return grant(p) if reason is None else deny(reason, p)
    return _failed(gate_throttle, device, open_rows[0][0] if open_rows else None)


def _failed(gate_throttle, device, p, reason="unknown"):
    """Count a failed entry; a keypad that starts a burst of failures raises an alert for the desk."""
    outcome = deny(reason, p)
    if gate_throttle.fail(device.id, p.id if p is not None else None):
        outcome.details["burst_failures"] = gate_throttle.failures(device.id)
    return outcome


def decide_plate(device, text, direction, now):
    """A plate from a barrier camera: watchlist, then a live pass for it; one car per lift."""
    plate = normalise_plate(text)
    if not plate or len(plate) > 16:
        return deny("unknown")
    listed = matching.match_plate(device.site_id, plate)
    if listed is not None:
        outcome = deny("watchlisted", watchlist_entry_id=listed.id)
    else:
        outcome = _resident_car(device, plate, direction) or _freight_or_pass(device, plate, direction, now)
    outcome.plate = plate
    return outcome


def _resident_car(device, plate, direction):
    """A resident's active car registered at the site: one car per lift; None when the plate is no such car."""
    car = queries.vehicle_for_plate(device.site_id, plate)
    if car is None or car[1] != "active":
        return None  # a car waiting for approval gets in only on a visitor's pass
    details = {"resident_vehicle": True, "vehicle_id": car[0]}
    reason = operations.move_vehicle(car[0], direction)
    if reason is None:
        return Outcome("grant", "ok", details=details)
    return deny(reason, **details)


def _freight_or_pass(device, plate, direction, now):
    """A freight vehicle approved for now is let in; otherwise a visitor's pass decides (unknown: the desk sees it)."""
    rows = queries.freight_for_plate(device.site_id, plate, now)
    for row in rows:
        if row["status"] == "active" and as_utc(row["valid_from"]) <= now < as_utc(row["valid_until"]):
            return Outcome("grant", "ok", details={"freight_approval_id": row["id"]})
    outcome = _plate_outcome(device, plate, direction, now)
    if outcome.reason == "unknown" and rows:
        row = rows[0]
        reason = "revoked" if row["status"] != "active" else "not_yet_valid" if now < as_utc(row["valid_from"]) else "expired"
        return deny(reason, freight_approval_id=row["id"])
    return outcome


def _plate_outcome(device, plate, direction, now):
    rows = queries.passes_for_plate(device.site_id, plate, now)
    if not rows:
        return deny("unknown")
    for row in rows:
        if rules.precheck(row[0], device, now, direction, row[1]) is None:
            return _admit(row, device, now, direction)
    return _admit(rows[0], device, now, direction)


FLOWS = {"qr": decide_qr, "code": decide_code, "plate": decide_plate}


class DecisionTimeout(RuntimeError):
    """The decision took longer than a reader waits; answering grant now would be pointless."""


def verify(device, method, value, direction, started, prefetched=None):
    """Decide, record the event and commit; any failure denies with reason "error" (fail closed).

    The commit happens here, not in the after-request hook: a grant may only be answered
    once the consumed entry is durable, and a failed commit must still become a deny.
    A decision that wrote nothing has nothing to commit: its event goes to the journal.
    """
    if method == "plate":
        direction = direction or "in"  # a barrier that reports nothing is an entry lane
    now = clock()
    try:
        if method == "qr":
            outcome = decide_qr(device, value, direction, now, prefetched)
        else:
            outcome = FLOWS[method](device, value, direction, now)
        if time.perf_counter() - started > current_app.config.get("GATE_DECISION_DEADLINE", 3.0):
            raise DecisionTimeout("decision deadline passed")
        operations.record_attempt(device, method, outcome, direction, now, _ms(started))
        if operations.wrote():
            db.session.commit()
    except Exception as exc:
        outcome = _fail_closed(device, method, direction, now, started, exc)
    finally:
        operations.forget_writes()
    if not outcome.granted and outcome.reason != "error":  # errors: portal.gate.errlog, once per interval
        # Only codes and ids: nothing a visitor typed or is called can reach the log line.
        log.info("gate deny device=%d method=%s reason=%s pass=%r", device.id, method, outcome.reason, outcome.pass_id)
    return outcome


def _ms(started):
    return (time.perf_counter() - started) * 1000.0


def _fail_closed(device, method, direction, now, started, exc):
    db.session.rollback()
    operations.forget_writes()
    # Class names and code locations only: exception messages may quote values (plates, phones). A burst of
    # identical failures (an outage) is one line per interval with a count, not a traceback per call.
    errlog.log_failure(log, logging.ERROR, "gate decision failed closed", exc, device=device.id, method=method)
    outcome = deny("error", error=type(exc).__name__)
    # Through the journal: recorded once the database takes writes again.
    operations.record_attempt(device, method, outcome, direction, now, _ms(started))
    return outcome
