"""Reads of the gate's hot path: one select per decision, only the columns the rules need."""
from datetime import timedelta

from portal.extensions import db
from portal.passes.models import Pass
from portal.watchlist import matching

# Columns every rule needs; the watchlist hit is folded in as a correlated subquery.
_RULE_COLUMNS = (Pass.id, Pass.site_id, Pass.status, Pass.valid_from, Pass.valid_until, Pass.timezone,
                 Pass.max_entries, Pass.uses, Pass.schedule, Pass.gate_ids, Pass.floors, Pass.last_direction)
# Passes that ended a little while ago are still found, so a late visitor hears "expired", not "unknown".
RECENT = timedelta(days=1)


def _select(*extra, plate=None):
    return db.select(*_RULE_COLUMNS, *extra, matching.pass_hit_subquery(extra_plate=plate).label("watch_hit"))


def pass_for_qr(pass_id):
    """The pass a verified QR token names, or None."""
    return db.session.execute(_select().where(Pass.id == pass_id)).first()


def passes_for_keypad(site_id, keypad_no, now):
    """Passes of a site holding a keypad number (live first), with their TOTP secrets and last steps."""
    q = (_select(Pass.otp_secret, Pass.otp_last_step)
         .where(Pass.site_id == site_id, Pass.keypad_no == keypad_no, Pass.valid_until > now - RECENT)
         .order_by(Pass.valid_until.desc()).limit(5))
    return db.session.execute(q).all()


def passes_for_plate(site_id, plate, now):
    """Passes of a site for a normalised plate that are live or nearly so, latest end first."""
    q = (_select(plate=plate)
         .where(Pass.site_id == site_id, Pass.plate == plate, Pass.valid_until > now - RECENT)
         .order_by(Pass.valid_until.desc()).limit(10))
    return db.session.execute(q).all()


def pass_counters(pass_id):
    """The fields a failed conditional update depends on, read again to name the reason."""
    return db.session.execute(
        db.select(Pass.status, Pass.uses, Pass.max_entries, Pass.last_direction, Pass.otp_last_step).where(Pass.id == pass_id)
    ).first()
