"""The residents' roll: read a CSV and plan, row by row, what importing it would create, change or leave.

Reads only; `roll_import.import_roll` applies a plan. Rows are numbered as a spreadsheet shows them
(the header is row 1, the first resident row 2). A resident is matched by normalised phone among the
site's residents (current or past), a residency by resident and unit, so a second import changes nothing.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time

from portal.accounts.models import RELATIONS, Residency, User
from portal.core import validators as v
from portal.core.csvcells import restored
from portal.core.errors import Refused, bilingual
from portal.core.i18n import N_
from portal.core.timeutil import as_utc, local, utcnow, zone
from portal.extensions import db
from portal.sites.models import Building, Unit

COLUMNS = ("building", "unit", "name", "phone", "relation", "move_in")
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000

MESSAGES = {
    "unknown_building": N_("No building with this code in the community."),
    "unknown_unit": N_("No unit with this number in the building."),
    "invalid_relation": N_("Relation must be owner, tenant or family."),
    "invalid_date": N_("Give the move-in date as YYYY-MM-DD, e.g. 2026-12-01."),
    "duplicate_row": N_("The same phone and unit as row %(row)s."),
    "name_conflict": N_("Row %(row)s gives this phone a different name."),
    "too_long_code": N_("At most %(max)s characters."),
}


@dataclass
class Row:
    """One line of the file: what it says, what importing it would do, and what is wrong with it."""

    row: int
    building: str = ""
    unit: str = ""
    name: str | None = None
    phone: str | None = None
    relation: str = ""
    move_in: date | None = None
    action: str = "error"  # create | update | unchanged | error
    changes: list = field(default_factory=list)  # e.g. ["resident", "residency"] or ["relation", "name"]
    errors: list = field(default_factory=list)  # (field, code, msgid, params)
    user: User | None = None
    residency: Residency | None = None
    unit_obj: Unit | None = None

    def error(self, name, code, msgid, **params):
        self.errors.append((name, code, msgid, params))


@dataclass
class Plan:
    """Every row of a file, planned against one site."""

    site: object
    rows: list
    create_places: bool = False
    new_buildings: set = field(default_factory=set)
    new_units: set = field(default_factory=set)

    @property
    def errors(self):
        return [(r.row, *e) for r in self.rows for e in r.errors]

    def count(self, action, rows=None):
        return sum(1 for r in rows or self.rows if r.action == action)


def decode(data):
    """The text of an uploaded roll: UTF-8, with or without the BOM Excel and WPS write."""
    if len(data) > MAX_BYTES:
        raise Refused("too_large", N_("The roll is too large: at most 2 MB and 20,000 rows."), kind="too_large")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused("bad_encoding", N_("Save the roll as CSV in UTF-8 (Excel: CSV UTF-8).")) from None


def read_rows(text):
    """(row number, dict of the six columns) for every non-empty line; a missing column refuses the file."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    names = [(h or "").strip().lower() for h in header or []]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise Refused(
            "bad_header",
            N_("The first line must name the columns building,unit,name,phone,relation,move_in (missing: %(missing)s)."),
            missing=",".join(missing),
        )
    where = {c: names.index(c) for c in COLUMNS}
    out = []
    for number, cells in enumerate(reader, start=2):
        if not any((c or "").strip() for c in cells):
            continue
        if len(out) >= MAX_ROWS:
            raise Refused("too_large", N_("The roll is too large: at most 2 MB and 20,000 rows."), kind="too_large")
        # A cell our own export neutralised ('=…, '+86…) reads back as it was, so re-importing it changes nothing.
        out.append((number, {c: (restored(cells[i]) if i < len(cells) else "") for c, i in where.items()}))
    return out


def _known(site):
    """Units by (building code, number), buildings by code, residents by phone, current residencies by (user, unit)."""
    buildings = {b.code: b for b in db.session.scalars(db.select(Building).where(Building.site_id == site.id))}
    units = {
        (b_code, u.number): u
        for u, b_code in db.session.execute(
            db.select(Unit, Building.code).join(Building).where(Building.site_id == site.id)
        ).tuples()
    }
    in_site = (
        db.select(Residency.user_id).join(Unit, Unit.id == Residency.unit_id).join(Building).where(Building.site_id == site.id)
    )
    # Phones are encrypted at rest, so the site's residents are read once and matched here, not in SQL.
    people = {}
    for user in db.session.scalars(db.select(User).where(User.id.in_(in_site), User.role == "resident").order_by(User.id)):
        if user.phone:
            people.setdefault(user.phone, user)
    now = utcnow()
    current = {}
    residencies = db.session.scalars(
        db.select(Residency)
        .join(Unit, Unit.id == Residency.unit_id)
        .join(Building)
        .where(Building.site_id == site.id, (Residency.ends_at.is_(None)) | (Residency.ends_at > now))
        .order_by(Residency.id)
    )
    for r in residencies:
        current.setdefault((r.user_id, r.unit_id), r)
    return buildings, units, people, current


def starts_at(site, day):
    """Midnight of the move-in day in the community's time zone, as UTC."""
    return as_utc(datetime.combine(day, time(0), tzinfo=zone(site.timezone)))


def _check(r, cells):
    """Field checks that need no database."""
    for name in ("building", "unit"):
        value = (cells[name] or "").strip()
        if not value:
            r.error(name, "required", "This field is required.")
        elif len(value) > 20:
            r.error(name, "too_long", MESSAGES["too_long_code"], max=20)
        setattr(r, name, value)
    for name, check in (("name", v.person_name), ("phone", lambda x: v.phone(x, required=True))):
        try:
            setattr(r, name, check(cells[name]))
        except v.FieldError as exc:
            r.error(name, exc.code, exc.message, **exc.params)
    r.relation = (cells["relation"] or "").strip().lower()
    if r.relation not in RELATIONS:
        r.error("relation", "invalid_relation", MESSAGES["invalid_relation"])
    try:
        r.move_in = date.fromisoformat((cells["move_in"] or "").strip())
    except ValueError:
        r.error("move_in", "invalid_date", MESSAGES["invalid_date"])


def plan(site, text, create_places=False):
    """What importing this roll into the site would do, row by row."""
    buildings, units, people, current = _known(site)
    p = Plan(site=site, rows=[], create_places=create_places)
    seen_pair, seen_name = {}, {}
    for number, cells in read_rows(text):
        r = Row(row=number)
        _check(r, cells)
        p.rows.append(r)
        if r.building and r.unit and not any(e[0] in ("building", "unit") for e in r.errors):
            r.unit_obj = units.get((r.building, r.unit))
            if r.unit_obj is None and not create_places:
                if r.building in buildings:
                    r.error("unit", "unknown_unit", MESSAGES["unknown_unit"])
                else:
                    r.error("building", "unknown_building", MESSAGES["unknown_building"])
        if r.phone:
            key = (r.phone, r.building, r.unit)
            if key in seen_pair:
                r.error("phone", "duplicate_row", MESSAGES["duplicate_row"], row=seen_pair[key])
            elif r.name and seen_name.get(r.phone, (r.name,))[0] != r.name:
                r.error("name", "name_conflict", MESSAGES["name_conflict"], row=seen_name[r.phone][1])
            seen_pair.setdefault(key, r.row)
            seen_name.setdefault(r.phone, (r.name, r.row))
        if r.errors:
            continue
        _decide(p, r, buildings, units, people, current)
    return p


def _decide(p, r, buildings, units, people, current):
    """create, update or unchanged, for a row without errors."""
    if r.unit_obj is None:  # create_places: a building and/or unit the file names that does not exist yet
        if r.building not in buildings:
            p.new_buildings.add(r.building)
            r.changes.append("building")
        p.new_units.add((r.building, r.unit))
        r.changes.append("unit")
    r.user = people.get(r.phone)
    if r.user is None:
        r.changes += ["resident", "residency"]
        r.action = "create"
        return
    if r.user.display_name != r.name:
        r.changes.append("name")
    r.residency = current.get((r.user.id, r.unit_obj.id)) if r.unit_obj is not None else None
    if r.residency is None:
        r.changes.append("residency")
        r.action = "create"
        return
    if r.residency.relation != r.relation:
        r.changes.append("relation")
    if local(r.residency.starts_at, p.site.timezone).date() != r.move_in:
        r.changes.append("move_in")
    r.action = "update" if r.changes else "unchanged"


def row_json(r):
    """One planned row for the dry-run table and the API."""
    return {
        "row": r.row,
        "action": r.action,
        "building": r.building,
        "unit": r.unit,
        "relation": r.relation,
        "changes": r.changes,
        "errors": [error_json(r.row, e) for e in r.errors],
    }


def error_json(row, e):
    """{"row", "field", "code", "message": {"en", "zh"}}."""
    name, code, msgid, params = e
    return {"row": row, "field": name, "code": code, "message": bilingual(msgid, **params)}
