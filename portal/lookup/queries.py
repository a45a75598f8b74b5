"""Finding people for the desk, each branch through an index: phone last four, plate, unit, name or host prefix.

docs/desk-lookup.md says which index serves which kind of query and what the bench measured.
"""

import re
import unicodedata
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import defer, joinedload, selectinload

from portal.accounts.models import Residency, User
from portal.audit.operations import record_pii
from portal.core.errors import ValidationFailed
from portal.core.timeutil import local, utcnow, zone
from portal.core.validators import mask_phone, normalise_plate
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.passes.models import Pass
from portal.permits.models import FreightApproval
from portal.sites.models import Building, Unit
from portal.vehicles.models import Vehicle

MAX_QUERY = 64
MAX_PASSES = 30
MAX_EVENTS = 30
_UNIT = re.compile(r"^(?P<building>[^\d\s\-_/]*?)[\s\-_/栋座号楼]*(?P<number>\d{2,6})$")
_PLATE = re.compile(r"^[\u4e00-\u9fa5]?[A-Z][A-Z0-9]{4,7}[\u4e00-\u9fa5]?$")


def clean_query(raw):
    """The typed text, NFKC-normalised (full-width digits become digits), trimmed, or None."""
    if not isinstance(raw, str):
        return None
    text = unicodedata.normalize("NFKC", raw).strip()
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return text[:MAX_QUERY] or None


def _prefix(column, text):
    """column starts with text: LIKE on PostgreSQL (a text_pattern_ops index), a range on SQLite (its binary index)."""
    if db.engine.dialect.name == "postgresql":
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")
    return (column >= text) & (column < text + "\U0010ffff")


def units_matching(site_id, text):
    """Units of the site a typed unit ("A-1201", "A栋1201", "1201") names, at most 10."""
    m = _UNIT.match(text)
    if not m:
        return []
    q = db.select(Unit).join(Building).where(Building.site_id == site_id, Unit.number == m["number"])
    building = m["building"]
    if building:
        q = q.where((Building.code == building.upper()) | (Building.name == building) | (Building.name == building + "栋"))
    return db.session.scalars(q.limit(10)).all()


# What the answer shows of a pass, joined into the one query that loads the passes found (every round trip
# counts: a search is a handful of index probes); the link and keypad secrets are never shown, so never decrypted.
_SHOWN = (
    joinedload(Pass.unit).joinedload(Unit.building),
    joinedload(Pass.host),
    defer(Pass.link_token),
    defer(Pass.otp_secret),
)


def _hosts(site_id, text):
    """Ids of the site's residents whose name starts with text (hosts of passes), as a subquery."""
    return (
        db.select(User.id)
        .join(Residency, Residency.user_id == User.id)
        .join(Unit, Unit.id == Residency.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .where(Building.site_id == site_id, _prefix(User.display_name, text))
        .limit(20)
        .scalar_subquery()
    )


def _latest(column, order, condition, limit):
    """column of the rows meeting condition with the latest order, found through condition's own index.

    The OFFSET 0 subquery is a fence: with ORDER BY … LIMIT on the whole table PostgreSQL may walk the
    order column's index backwards and filter, reading every row when fewer than limit match (a rare name
    took 400 ms on a year of data); here the matching rows are found first, then sorted (a few hundred at most).
    """
    found = db.select(column.label("key"), order.label("order")).where(condition).offset(0).subquery()
    return list(db.session.scalars(db.select(found.c.key).order_by(found.c.order.desc()).limit(limit)))


def _pass_ids(site_id, condition):
    """Ids of the latest-ending passes of the site meeting condition (no row data)."""
    return _latest(Pass.id, Pass.valid_until, (Pass.site_id == site_id) & condition, MAX_PASSES)


def search(site, raw):
    """{"passes", "units", "vehicles", "freight", "events", "matched"} for the desk's search box; [] everywhere for nothing."""
    text = clean_query(raw)
    found = {"passes": [], "units": [], "vehicles": [], "freight": [], "events": [], "matched": []}
    if text is None or (len(text) < 2 and text.isascii()):  # one Chinese character is a surname
        return found
    ids = {}

    def add(kind, condition):
        hits = _pass_ids(site.id, condition)
        if hits:
            found["matched"].append(kind)
        for pass_id in hits:
            ids.setdefault(pass_id, None)

    if text.isascii() and text.isdigit() and len(text) == 4:
        add("phone_last4", Pass.visitor_phone_last4 == text)
    plate = normalise_plate(text)
    plate_events = []
    if _PLATE.match(plate):
        add("plate", Pass.plate == plate)
        found["vehicles"] = db.session.scalars(db.select(Vehicle).where(Vehicle.site_id == site.id, Vehicle.plate == plate)).all()
        found["freight"] = db.session.scalars(
            db.select(FreightApproval).where(FreightApproval.site_id == site.id, FreightApproval.plate == plate).limit(10)
        ).all()
        plate_events = _events((AccessEvent.site_id == site.id) & (AccessEvent.plate == plate))
    units = units_matching(site.id, text)
    if units:
        found["units"] = units
        add("unit", Pass.unit_id.in_([u.id for u in units]))
    if not text.isdigit():
        add("name", _prefix(Pass.visitor_name, text))
        add("host", Pass.host_id.in_(_hosts(site.id, text)))
    wanted = list(ids)[: MAX_PASSES * 2]
    if wanted:
        q = db.select(Pass).where(Pass.id.in_(wanted)).options(*_SHOWN)
        rows = {p.id: p for p in db.session.scalars(q).unique()}
        found["passes"] = [rows[i] for i in wanted if i in rows]
    events = plate_events + (_events(AccessEvent.pass_id.in_(wanted)) if wanted else [])
    seen = set()
    found["events"] = [e for e in sorted(events, key=lambda e: e.at, reverse=True) if not (e.id in seen or seen.add(e.id))][
        :MAX_EVENTS
    ]
    return found


def _events(condition):
    """The latest events meeting condition, with their gate."""
    ids = _latest(AccessEvent.id, AccessEvent.at, condition, MAX_EVENTS)
    if not ids:
        return []
    q = db.select(AccessEvent).options(selectinload(AccessEvent.gate)).where(AccessEvent.id.in_(ids))
    return db.session.scalars(q).all()


def day_bounds(day, tz_name):
    """(start, end) of a local calendar day, as aware datetimes."""
    start = datetime.combine(day, time(0, 0), zone(tz_name))
    return start, start + timedelta(days=1)


def _arrival_hour(p, start, end, weekday):
    """The local hour a pass's visitor is expected on this day, or None when its schedule skips the day."""
    if p.schedule:
        days = p.schedule.get("days") or range(1, 8)
        if weekday not in days:
            return None
        return int(p.schedule["start"][:2])
    first = max(local(p.valid_from, p.timezone), start)
    return first.hour if first < end else None


def expected(site, day):
    """Passes expected at the site on a local day: {hour: [pass, ...]}, hours ascending."""
    start, end = day_bounds(day, site.timezone)
    q = (
        db.select(Pass)
        .where(
            Pass.site_id == site.id,
            Pass.status != "revoked",
            Pass.valid_until > start,
            Pass.valid_from < end,
        )
        .order_by(Pass.valid_from)
        .limit(2000)
    )
    hours = {}
    for p in db.session.scalars(q):
        if p.max_entries is not None and p.uses >= p.max_entries:
            continue
        hour = _arrival_hour(p, start, end, day.isoweekday())
        if hour is not None:
            hours.setdefault(hour, []).append(p)
    return dict(sorted(hours.items()))


def host_of(p):
    """{"name", "phone"} of the pass's host, phone masked."""
    host = p.host
    return {"name": host.display_name, "phone": mask_phone(host.phone)} if host is not None else None


SHOWN = ["name", "phone_masked", "id_masked", "plate", "host_name", "host_phone_masked"]


def audited_search(user, site, raw):
    """Search, and audit what staff were shown (counts and ids, not the typed text: it may be a phone's digits)."""
    found = search(site, raw)
    if found["passes"] or found["events"]:
        record_pii(
            user,
            "desk_search",
            None,
            site.id,
            fields=SHOWN,
            matched=found["matched"],
            pass_ids=[p.id for p in found["passes"]],
            events=len(found["events"]),
        )
    return found


def _day(raw):
    """A YYYY-MM-DD date, or None."""
    try:
        return date.fromisoformat(raw) if raw and len(raw) == 10 else None
    except ValueError:
        return None


def requested_day(site, raw):
    """The ?date= asked for (YYYY-MM-DD), or today at the site; a malformed one is refused."""
    if not raw:
        return local(utcnow(), site.timezone).date()
    day = _day(raw)
    if day is None:
        raise ValidationFailed({"date": ("invalid_date", "Give a date as YYYY-MM-DD.")})
    return day


def shown_day(site, raw):
    """The day a page shows: the ?date= asked for, or today at the site when none or a malformed one was given."""
    return _day(raw) or local(utcnow(), site.timezone).date()


def audited_expected(user, site, day):
    """Expected visitors of a day, audited as a view of personal data when there are any."""
    hours = expected(site, day)
    ids = [p.id for passes in hours.values() for p in passes]
    if ids:
        record_pii(user, "desk_expected", None, site.id, fields=SHOWN, day=day.isoformat(), pass_ids=ids[:500])
    return hours
