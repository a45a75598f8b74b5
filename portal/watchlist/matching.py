"""Does a pass or a plate hit an active watchlist entry of its site? Exact matches only.

Every lookup is one probe per identity column, each on its own (site_id, column) index, so its
cost does not grow with the watchlist. One query OR-ing the three columns could only scan the
site's entries: with 20,000 entries that made each gate read about 80 times slower on SQLite.
"""

from sqlalchemy import func

from portal.extensions import db
from portal.passes.models import Pass
from portal.watchlist.models import WatchlistEntry


def _conditions(id_idx, phone_idx, plate):
    """One equality per value present (SQL expressions of an outer query, or plain values)."""
    conds = []
    for column, value in ((WatchlistEntry.id_idx, id_idx), (WatchlistEntry.phone_idx, phone_idx), (WatchlistEntry.plate, plate)):
        # An outer column may be NULL at run time: NULL = NULL is not true in SQL, so it cannot match.
        if value is not None and (not isinstance(value, str) or value):
            conds.append(column == value)
    return conds


def _where(site_id, cond):
    return WatchlistEntry.site_id == site_id, cond, WatchlistEntry.active.is_(True)


def pass_hit_subquery(extra_plate=None):
    """A correlated scalar expression: the id of an entry matching the outer Pass row, or NULL.

    Folding the watchlist into the pass lookup keeps the gate's hot path at one select.
    """
    conds = _conditions(Pass.visitor_id_idx, Pass.visitor_phone_idx, Pass.plate)
    if extra_plate is not None:
        conds.append(WatchlistEntry.plate == extra_plate)
    probes = [
        db.select(WatchlistEntry.id).where(*_where(Pass.site_id, c)).limit(1).correlate(Pass).scalar_subquery() for c in conds
    ]
    return probes[0] if len(probes) == 1 else func.coalesce(*probes)


def matching_entries(site_id, id_idx=None, phone_idx=None, plate=None):
    """Active entries of a site matching any of the given values, by id."""
    found = {}
    for cond in _conditions(id_idx, phone_idx, plate):
        for entry in db.session.scalars(db.select(WatchlistEntry).where(*_where(site_id, cond))):
            found[entry.id] = entry
    return [found[k] for k in sorted(found)]


def match(site_id, id_idx=None, phone_idx=None, plate=None):
    """The first active entry of a site matching any of the given values, or None."""
    entries = matching_entries(site_id, id_idx, phone_idx, plate)
    return entries[0] if entries else None


def match_plate(site_id, plate):
    """The entry for a normalised plate at a site, or None."""
    return match(site_id, plate=plate) if plate else None
