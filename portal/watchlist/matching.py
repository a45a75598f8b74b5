"""Does a pass or a plate hit an active watchlist entry of its site? Exact matches only."""
from sqlalchemy import or_

from portal.extensions import db
from portal.passes.models import Pass
from portal.watchlist.models import WatchlistEntry


def _conditions(id_idx, phone_idx, plate):
    """OR-able conditions for the values that are present (SQL expressions or plain values)."""
    conds = []
    for column, value in ((WatchlistEntry.id_idx, id_idx), (WatchlistEntry.phone_idx, phone_idx),
                          (WatchlistEntry.plate, plate)):
        if value is None:
            continue
        if isinstance(value, str):
            if value:
                conds.append(column == value)
        else:
            # A column of the outer query: NULL = NULL is not true in SQL, so a missing value cannot match,
            # and plain equalities let SQLite and PostgreSQL use each index (OR-by-union / bitmap OR).
            conds.append(column == value)
    return conds


def pass_hit_subquery(extra_plate=None):
    """A correlated scalar subquery: the id of an entry matching the outer Pass row, or NULL.

    Folding the watchlist into the pass lookup keeps the gate's hot path at one select.
    """
    conds = _conditions(Pass.visitor_id_idx, Pass.visitor_phone_idx, Pass.plate)
    if extra_plate is not None:
        conds.append(WatchlistEntry.plate == extra_plate)
    return (db.select(WatchlistEntry.id)
            .where(WatchlistEntry.site_id == Pass.site_id, WatchlistEntry.active.is_(True), or_(*conds))
            .limit(1).correlate(Pass).scalar_subquery())


def match(site_id, id_idx=None, phone_idx=None, plate=None):
    """The first active entry of a site matching any of the given values, or None."""
    conds = _conditions(id_idx, phone_idx, plate)
    if not conds:
        return None
    q = (db.select(WatchlistEntry)
         .where(WatchlistEntry.site_id == site_id, WatchlistEntry.active.is_(True), or_(*conds))
         .order_by(WatchlistEntry.id).limit(1))
    return db.session.scalar(q)


def match_pass(p):
    """The entry a pass's visitor (ID number, phone) or plate is listed under, or None."""
    return match(p.site_id, id_idx=p.visitor_id_idx, phone_idx=p.visitor_phone_idx, plate=p.plate)


def match_plate(site_id, plate):
    """The entry for a normalised plate at a site, or None."""
    return match(site_id, plate=plate) if plate else None
