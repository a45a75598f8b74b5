"""Applying a residents' roll plan (portal.sites.roll): the accounts, residencies and places an import writes."""

from portal.accounts.models import Residency, User
from portal.audit.operations import record
from portal.extensions import db
from portal.sites import roll
from portal.sites.models import Building
from portal.sites.operations import add_building, add_unit

# Imported residents get an account nobody can log in to until they set a password: argon2 rejects
# this as a hash, so every password check fails (and no argon2 hash is spent per row of a 5,000-row roll).
UNUSABLE_PASSWORD = "!unset"  # noqa: S105 - a marker no password matches, not a secret
# Called with (site, [new user ids]) after an import created accounts, inside its transaction. The activation
# SMS (single-use link, 72 h; issue 17) belongs here: queue an outbox row per user, never send from here.
ON_RESIDENTS_IMPORTED = []


def login_for(site, phone, taken):
    """A login for an imported resident: the site's slug and the phone's digits, made unique."""
    base = f"{site.slug}-{phone.lstrip('+')}"[:60].lower()
    login, n = base, 1
    while login in taken:
        n += 1
        login = f"{base}-{n}"
    taken.add(login)
    return login


def _places(plan):
    """Create the buildings and units a create_places plan names; units keyed by (building code, number)."""
    site = plan.site
    buildings = {b.code: b for b in db.session.scalars(db.select(Building).where(Building.site_id == site.id))}
    made = {}
    for code in sorted(plan.new_buildings):
        if code not in buildings:
            buildings[code] = add_building(site, code, code)
            record("building.create", "building", buildings[code].id, site_id=site.id, code=code, source="roll")
    for code, number in sorted(plan.new_units):
        floor = int(number[:-2]) if number.isdigit() and len(number) > 2 else 1  # 1201 is on the 12th floor
        b = buildings[code]
        b.lowest_floor, b.highest_floor = min(b.lowest_floor, floor), max(b.highest_floor, floor)
        made[(code, number)] = add_unit(b, number, floor)
        record("unit.create", "unit", made[(code, number)].id, site_id=site.id, source="roll")
    return made


def import_roll(plan, skip_errors=False, dry_run=False):
    """Apply a roll plan (sites.roll.plan): nothing while errors remain unless skip_errors; returns the summary."""
    errors = plan.errors
    good = [r for r in plan.rows if not r.errors]
    apply = not dry_run and (not errors or skip_errors)
    result = {
        "created": plan.count("create", good) if good else 0,
        "updated": plan.count("update", good) if good else 0,
        "unchanged": plan.count("unchanged", good) if good else 0,
        "errors": [roll.error_json(row, e[:4]) for row, *e in errors],
        "rows_in_error": len({row for row, *_ in errors}),
        "dry_run": dry_run,
        "applied": apply,
    }
    if dry_run:
        result["rows"] = [roll.row_json(r) for r in plan.rows]
    if not apply:
        return result
    site = plan.site
    made = _places(plan) if plan.new_units else {}
    todo = [r for r in good if r.action != "unchanged"]
    # New accounts and residencies go in as bulk inserts: ORM objects one by one made a 5,000-row roll take 12 s.
    new_phones = sorted({r.phone for r in todo if r.user is None})
    taken = set(db.session.scalars(db.select(User.login).where(User.login.like(f"{site.slug}-%"))))
    names = {}
    for r in todo:
        names.setdefault(r.phone, r.name)
    new_ids = {}
    if new_phones:
        rows = [
            {
                "login": login_for(site, phone, taken),
                "display_name": names[phone],
                "role": "resident",
                "password_hash": UNUSABLE_PASSWORD,
                "phone": phone,
                "locale": "zh",
            }
            for phone in new_phones
        ]
        ids = db.session.scalars(db.insert(User).returning(User.id, sort_by_parameter_order=True), rows).all()
        new_ids = dict(zip(new_phones, ids, strict=True))
    residencies = []
    for r in todo:
        r.unit_obj = r.unit_obj or made[(r.building, r.unit)]
        user_id = r.user.id if r.user is not None else new_ids[r.phone]
        if r.user is not None and r.user.display_name != r.name:
            r.user.display_name = r.name
        begins = roll.starts_at(site, r.move_in)
        if r.residency is None:
            residencies.append({"user_id": user_id, "unit_id": r.unit_obj.id, "relation": r.relation, "starts_at": begins})
            action = "resident.move_in"
        else:
            r.residency.relation = r.relation
            if "move_in" in r.changes:
                r.residency.starts_at = begins
            action = "resident.update"
        record(
            action,
            "user",
            user_id,
            site_id=site.id,
            unit_id=r.unit_obj.id,
            relation=r.relation,
            source="roll",
            row=r.row,
            new_account=r.user is None,
        )
    if residencies:
        db.session.execute(db.insert(Residency), residencies)
    record(
        "resident.import",
        "site",
        site.id,
        site_id=site.id,
        created=result["created"],
        updated=result["updated"],
        unchanged=result["unchanged"],
        skipped_rows=result["rows_in_error"],
    )
    for hook in ON_RESIDENTS_IMPORTED:
        hook(site, list(new_ids.values()))
    return result
