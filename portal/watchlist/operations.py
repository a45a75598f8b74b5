"""Managing the watchlist, and the name screening the desk does (exact matches are the gate's job)."""

import difflib
import re
import unicodedata

from portal.audit.operations import record
from portal.core import crypto
from portal.core import validators as v
from portal.core.errors import Refused, ValidationFailed
from portal.extensions import db
from portal.watchlist.models import WatchlistEntry

NAME_RATIO = 0.85


def add_entry(user, site_id, data):
    """A manager adds a person (name with ID number or phone) or a plate; only keyed hashes are kept."""
    errors = {}
    kind = data.get("kind")
    if kind not in ("person", "plate"):
        raise ValidationFailed({"kind": ("invalid_kind", "Kind must be person or plate.", {})})
    reason = v.collect(errors, "reason", v.clean_text, data.get("reason"), max_len=200, required=False)
    entry = WatchlistEntry(site_id=site_id, kind=kind, reason=reason, active=True, created_by_id=user.id)
    if kind == "person":
        entry.name = v.collect(errors, "name", v.person_name, data.get("name"))
        idn = v.collect(errors, "id_number", v.id_number, data.get("id_number"))
        phone = v.collect(errors, "phone", v.phone, data.get("phone"))
        if not idn and not phone and "id_number" not in errors and "phone" not in errors:
            errors["id_number"] = ("required", "Give an ID number or a phone number.", {})
        entry.id_idx = crypto.blind_index("id", idn) if idn else None
        entry.phone_idx = crypto.blind_index("phone", phone) if phone else None
        entry.hint = v.mask_id(idn) if idn else v.mask_phone(phone) if phone else None
    else:
        entry.plate = v.collect(errors, "plate", v.plate, data.get("plate"), required=True, allow_unknown=True)
        entry.hint = entry.plate
    if errors:
        raise ValidationFailed(errors)
    db.session.add(entry)
    db.session.flush()
    record("watchlist.add", "watchlist", entry.id, site_id=site_id, kind=kind, hint=entry.hint)
    return entry


def deactivate(user, entry):
    """Take an entry off the list (kept for the record)."""
    if not entry.active:
        raise Refused("inactive", "This entry is already inactive.", kind="conflict")
    entry.active = False
    record("watchlist.deactivate", "watchlist", entry.id, site_id=entry.site_id)
    return entry


def normalise_name(name):
    """Compare names by letters only: full-width, case, spaces and dots do not matter."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    return re.sub(r"[\s·•.\-_,'’]", "", text)


def name_hits(site_id, name, ratio=NAME_RATIO):
    """Active person entries whose name is the same as or close to this one (for a human to check)."""
    wanted = normalise_name(name)
    if not wanted:
        return []
    rows = db.session.scalars(
        db.select(WatchlistEntry).where(
            WatchlistEntry.site_id == site_id,
            WatchlistEntry.active.is_(True),
            WatchlistEntry.kind == "person",
            WatchlistEntry.name.is_not(None),
        )
    ).all()
    hits = []
    for entry in rows:
        other = normalise_name(entry.name)
        if other and (other == wanted or difflib.SequenceMatcher(None, wanted, other).ratio() >= ratio):
            hits.append(entry)
    return hits


def exact_hits(site_id, id_number=None, phone=None, plate=None):
    """Active entries matching an ID number, phone or plate exactly (walk-ins are checked like gates)."""
    from portal.watchlist.matching import matching_entries

    return matching_entries(
        site_id,
        id_idx=crypto.blind_index("id", id_number) if id_number else None,
        phone_idx=crypto.blind_index("phone", phone) if phone else None,
        plate=v.normalise_plate(plate) if plate else None,
    )


def entry_json(entry):
    """An entry as staff see it: masked hint only."""
    return {
        "id": entry.id,
        "kind": entry.kind,
        "name": entry.name,
        "hint": entry.hint,
        "plate": entry.plate,
        "reason": entry.reason,
        "active": entry.active,
        "created_at": entry.created_at.isoformat(),
    }
