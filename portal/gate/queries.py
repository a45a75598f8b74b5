"""Reads of the gate's hot path: one select per decision brings the pass and its watchlist hit.

Run through portal.core.reads (docs/gate.md, "Reads", says why).
"""

from datetime import timedelta
from functools import cache
from types import SimpleNamespace

from sqlalchemy import bindparam

from portal.core import reads
from portal.core.timeutil import utcnow
from portal.devices import api_tokens as device_tokens
from portal.extensions import db
from portal.passes.models import Pass
from portal.permits.models import FreightApproval
from portal.vehicles.models import Vehicle
from portal.watchlist import matching

# Passes that ended a little while ago are still found, so a late visitor hears "expired", not "unknown".
RECENT = timedelta(days=1)


# What the rules read; other columns (the visitor, encrypted phone and ID, the link) stay unread.
_QR_PASS_FIELDS = (
    Pass.id,
    Pass.site_id,
    Pass.status,
    Pass.valid_from,
    Pass.valid_until,
    Pass.timezone,
    Pass.max_entries,
    Pass.uses,
    Pass.schedule,
    Pass.gate_ids,
    Pass.floors,
    Pass.last_direction,
)
_QR_PASS_NAMES = tuple(c.key for c in _QR_PASS_FIELDS)
# A QR decision never reads the keypad secret (decrypting it would cost more than the rest of the row).
_PASS_FIELDS = (*_QR_PASS_FIELDS, Pass.otp_secret, Pass.otp_last_step)
_PASS_NAMES = tuple(c.key for c in _PASS_FIELDS)


def _view(m, prefix="", names=_PASS_NAMES):
    """(pass view, watchlist entry id) from one result row (a dict): the shape the decisions take."""
    return SimpleNamespace(**{name: m[prefix + name] for name in names}), m["watch_hit"]


def _base(plate=False):
    watch = matching.pass_hit_subquery(extra_plate=bindparam("plate") if plate else None).label("watch_hit")
    return db.select(*_PASS_FIELDS, watch)


@cache
def _by_id():
    return _base().where(Pass.id == bindparam("pass_id"))


@cache
def _by_keypad():
    return (
        _base()
        .where(
            Pass.site_id == bindparam("site_id"), Pass.keypad_no == bindparam("keypad_no"), Pass.valid_until > bindparam("since")
        )
        .order_by(Pass.valid_until.desc())
        .limit(5)
    )


@cache
def _by_plate():
    return (
        _base(plate=True)
        .where(Pass.site_id == bindparam("site_id"), Pass.plate == bindparam("plate"), Pass.valid_until > bindparam("since"))
        .order_by(Pass.valid_until.desc())
        .limit(10)
    )


@cache
def _vehicle_by_plate():
    return db.select(Vehicle.id, Vehicle.status).where(
        Vehicle.site_id == bindparam("site_id"), Vehicle.plate == bindparam("plate")
    )


@cache
def _token_and_pass():
    # Pass columns carry a p_ prefix: the device's own site_id and status are read too.
    source, condition = device_tokens.auth_from()
    return (
        db.select(
            *device_tokens.auth_columns(),
            *(c.label(f"p_{c.key}") for c in _QR_PASS_FIELDS),
            matching.pass_hit_subquery().label("watch_hit"),
        )
        .select_from(source.outerjoin(Pass, Pass.id == bindparam("pass_id")))
        .where(condition)
    )


def device_and_pass(presented, pass_id, cache=None):
    """(DeviceRef, (pass, watch hit) or None) from ONE select: a signed QR's token check and pass.

    presented is the token's hash (device_tokens.bearer_hash); 401 exactly as device_tokens.authenticate().
    Only the rules' columns are read: no unit, building or gate row (the event hooks load a gate by id if
    they need its name). With cache (a usable portal.gate.cache, for a scan without a direction) the rows
    may come from this worker's copy, which the device's first scan fills with its site's live passes.
    """
    kept = cache.get(presented, pass_id) if cache is not None else None
    if kept is None:
        generation = cache.generation if cache is not None else None
        found = reads.rows(_token_and_pass(), token_hash=presented, pass_id=pass_id)
        token, row = _split(found[0]) if found else (None, None)
        if cache is not None and token is not None:
            # Only an unlimited pass: its grants take nothing, so its row decides alone.
            cacheable = row is not None and row["p_max_entries"] is None
            cache.put(generation, presented, token, pass_id, row if cacheable else None)
    else:
        token, row = kept
    device = device_tokens.device_from_row(token)
    if device.touch_due:
        token["last_used_at"] = utcnow()  # the token's use is being written; a cached row must not ask again
    if cache is not None:
        cache.warm(device.site_id, _live_passes)
    return device, (_view(row, "p_", _QR_PASS_NAMES) if row is not None else None)


_TOKEN_KEYS = tuple(c.key for c in device_tokens.auth_columns())


def _split(joint):
    """(token row, pass row or None) of a joint row; the pass row keeps its p_ prefix and the watchlist hit."""
    token = {k: joint[k] for k in _TOKEN_KEYS}
    if joint["p_id"] is None:
        return token, None
    return token, {k: v for k, v in joint.items() if k not in token}


# A warming reads at most this many of a site's live passes, the latest ending first (they stay longest).
WARM_MAX = 5_000


@cache
def _live_unlimited():
    return (
        db.select(*(c.label(f"p_{c.key}") for c in _QR_PASS_FIELDS), matching.pass_hit_subquery().label("watch_hit"))
        .where(
            Pass.site_id == bindparam("site_id"),
            Pass.status == "active",
            Pass.max_entries.is_(None),
            Pass.valid_until > bindparam("now"),
        )
        .order_by(Pass.valid_until.desc())
        .limit(WARM_MAX)
    )


def _live_passes(site_id):
    """[(pass id, pass row)] of a site's live unlimited passes, for portal.gate.cache's warming thread.

    On a pooled connection, given back at once: a per-thread read connection would stay open after the thread ends.
    """
    with db.engine.connect() as conn:
        found = conn.execute(_live_unlimited(), {"site_id": site_id, "now": utcnow()}).mappings().all()
    return [(row["p_id"], dict(row)) for row in found]


def pass_for_qr(pass_id):
    """(pass, watchlist entry id) for the pass a verified QR token names, or None."""
    rows = reads.rows(_by_id(), pass_id=pass_id)
    return _view(rows[0]) if rows else None


def passes_for_keypad(site_id, keypad_no, now):
    """Rows (pass, watch hit) of a site's passes holding a keypad number, latest end first."""
    return [_view(row) for row in reads.rows(_by_keypad(), site_id=site_id, keypad_no=keypad_no, since=now - RECENT)]


def passes_for_plate(site_id, plate, now):
    """Rows (pass, watch hit) for a normalised plate, live or nearly so, latest end first."""
    return [_view(row) for row in reads.rows(_by_plate(), site_id=site_id, plate=plate, since=now - RECENT)]


def vehicle_for_plate(site_id, plate):
    """(id, status) of a resident's car registered at the site under a normalised plate, or None.

    Read on every plate decision (never from portal.gate.cache), so a removed car is refused at the next read.
    """
    rows = reads.rows(_vehicle_by_plate(), site_id=site_id, plate=plate)
    return (rows[0]["id"], rows[0]["status"]) if rows else None


@cache
def _freight_by_plate():
    t = FreightApproval
    return (
        db.select(t.id, t.status, t.valid_from, t.valid_until)
        .where(t.site_id == bindparam("site_id"), t.plate == bindparam("plate"), t.valid_until > bindparam("since"))
        .order_by(t.valid_until.desc())
        .limit(5)
    )


def freight_for_plate(site_id, plate, now):
    """Freight approvals (id, status, valid_from, valid_until) of a plate at the site, live or nearly so; never cached."""
    return reads.rows(_freight_by_plate(), site_id=site_id, plate=plate, since=now - RECENT)


def pass_counters(pass_id):
    """The fields a failed conditional update depends on, read again (in its transaction) to name the reason."""
    return (
        db.session.connection()
        .execute(db.select(Pass.status, Pass.uses, Pass.max_entries, Pass.last_direction).where(Pass.id == pass_id))
        .first()
    )
