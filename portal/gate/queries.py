"""Reads of the gate's hot path: one select per decision brings the pass, its unit, the gate and the watchlist hit.

Statements are built once with bind parameters, so SQLAlchemy reuses their cache keys and
compiled SQL instead of rebuilding them per request. The pass comes with its unit, building
and the device's gate already loaded, so event hooks (the desk's live board) need no more queries.
"""
from datetime import timedelta
from functools import cache

from sqlalchemy import bindparam
from sqlalchemy.orm import joinedload, load_only

from portal.extensions import db
from portal.passes.models import Pass
from portal.sites.models import Building, Gate, Unit
from portal.watchlist import matching

# Passes that ended a little while ago are still found, so a late visitor hears "expired", not "unknown".
RECENT = timedelta(days=1)


# What the rules and the event hooks read; other columns (encrypted phone and ID, the link) stay unloaded.
_PASS_FIELDS = (Pass.id, Pass.site_id, Pass.unit_id, Pass.kind, Pass.visitor_name, Pass.plate, Pass.status,
                Pass.valid_from, Pass.valid_until, Pass.timezone, Pass.max_entries, Pass.uses, Pass.schedule,
                Pass.gate_ids, Pass.floors, Pass.last_direction, Pass.otp_secret, Pass.otp_last_step)


def _base(plate=False):
    watch = matching.pass_hit_subquery(extra_plate=bindparam("plate") if plate else None).label("watch_hit")
    return (db.select(Pass, Gate, watch)
            .outerjoin(Gate, Gate.id == bindparam("gate_id"))
            .options(load_only(*_PASS_FIELDS), load_only(Gate.id, Gate.site_id, Gate.code, Gate.name, Gate.name_en),
                     joinedload(Pass.unit, innerjoin=True).load_only(Unit.id, Unit.building_id, Unit.number, Unit.floor)
                     .joinedload(Unit.building, innerjoin=True).load_only(Building.id, Building.site_id, Building.name)))


@cache
def _by_id():
    return _base().where(Pass.id == bindparam("pass_id"))


@cache
def _by_keypad():
    return (_base().where(Pass.site_id == bindparam("site_id"), Pass.keypad_no == bindparam("keypad_no"),
                          Pass.valid_until > bindparam("since"))
            .order_by(Pass.valid_until.desc()).limit(5))


@cache
def _by_plate():
    return (_base(plate=True).where(Pass.site_id == bindparam("site_id"), Pass.plate == bindparam("plate"),
                                    Pass.valid_until > bindparam("since"))
            .order_by(Pass.valid_until.desc()).limit(10))


def pass_for_qr(pass_id, gate_id):
    """(pass, gate, watchlist entry id) for the pass a verified QR token names, or None."""
    return db.session.execute(_by_id(), {"pass_id": pass_id, "gate_id": gate_id}).first()


def passes_for_keypad(site_id, keypad_no, now, gate_id):
    """Rows (pass, gate, watch hit) of a site's passes holding a keypad number, latest end first."""
    params = {"site_id": site_id, "keypad_no": keypad_no, "since": now - RECENT, "gate_id": gate_id}
    return db.session.execute(_by_keypad(), params).all()


def passes_for_plate(site_id, plate, now, gate_id):
    """Rows (pass, gate, watch hit) for a normalised plate, live or nearly so, latest end first."""
    params = {"site_id": site_id, "plate": plate, "since": now - RECENT, "gate_id": gate_id}
    return db.session.execute(_by_plate(), params).all()


def pass_counters(pass_id):
    """The fields a failed conditional update depends on, read again to name the reason."""
    return db.session.execute(
        db.select(Pass.status, Pass.uses, Pass.max_entries, Pass.last_direction).where(Pass.id == pass_id)
    ).first()
