"""`flask --app wsgi sites …` and `residents …`: set up a community and its people from the shell."""

import click
from flask.cli import AppGroup

from portal.accounts.models import RELATIONS, ROLES
from portal.accounts.operations import create_user
from portal.core.validators import FieldError
from portal.extensions import db
from portal.sites import operations as places
from portal.sites import queries, schema
from portal.sites.models import Building, Unit

sites_cli = AppGroup("sites", help="Communities, buildings, units and gates.")
residents_cli = AppGroup("residents", help="Residents and staff accounts.")


def cli_site(slug):
    """The site with this slug, or a command-line error (shared by every command group)."""
    site = queries.site_by_slug(slug)
    if site is None:
        raise click.ClickException(f"no site {slug!r}")
    return site


def _unit(site, building_code, number):
    unit = db.session.scalar(
        db.select(Unit).join(Building).where(Building.site_id == site.id, Building.code == building_code, Unit.number == number)
    )
    if unit is None:
        raise click.ClickException(f"no unit {building_code}-{number} at {site.slug}")
    return unit


@sites_cli.command("add")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
def add_site(slug, name, timezone):
    """A new community with its first signing key."""
    if queries.site_by_slug(slug) is not None:
        raise click.ClickException(f"site {slug!r} exists")
    places.create_site(slug, name, timezone=timezone)
    db.session.commit()
    click.echo(f"site {slug} created")


def _checked(call, *args):
    """An operation whose refusal abandons what it wrote and becomes a command-line error naming each field (in English)."""
    from portal.core.errors import attempt, bilingual

    result, refusal = attempt(call, *args)
    if refusal is None:
        return result
    fields = refusal.fields or {"": (refusal.code, refusal.message, refusal.params)}
    parts = [f"{name}: {bilingual(f[1], **(f[2] if len(f) > 2 else {}))['en']}".lstrip(": ") for name, f in fields.items()]
    raise click.ClickException("; ".join(parts))


@sites_cli.command("add-building")
@click.option("--site", "slug", required=True)
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--lowest", type=int, default=1, show_default=True, help="lowest floor (basements are negative)")
@click.option("--highest", type=int, default=1, show_default=True)
@click.option("--name-en", default=None, help="English name, shown on English pages")
def add_building(slug, code, name, lowest, highest, name_en):
    """A building and its floor range (for lift rights); the code is unique in the community."""
    site = cli_site(slug)
    values = {"code": code, "name": name, "name_en": name_en, "lowest_floor": lowest, "highest_floor": highest}
    _checked(lambda: places.create_building(site, schema.parse_building(values)))
    db.session.commit()
    click.echo(f"building {code} ({lowest}..{highest}) added")


@sites_cli.command("add-unit")
@click.option("--site", "slug", required=True)
@click.option("--building", required=True)
@click.option("--number", required=True)
@click.option("--floor", type=int, required=True)
def add_unit(slug, building, number, floor):
    """A unit in a building, on one of its floors; the number is unique in the building."""
    site = cli_site(slug)
    b = db.session.scalar(db.select(Building).where(Building.site_id == site.id, Building.code == building))
    if b is None:
        raise click.ClickException(f"no building {building}")
    _checked(lambda: places.create_unit(b, schema.parse_unit({"number": number, "floor": floor}, b)))
    db.session.commit()
    click.echo(f"unit {building}-{number} added")


@sites_cli.command("add-gate")
@click.option("--site", "slug", required=True)
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(["pedestrian", "vehicle"]), default="pedestrian", show_default=True)
@click.option("--name-en", default=None, help="English name, shown on English pages")
def add_gate(slug, code, name, kind, name_en):
    """An entrance where passes are checked; the code is unique in the community."""
    site = cli_site(slug)
    values = {"code": code, "name": name, "name_en": name_en, "kind": kind}
    _checked(lambda: places.create_gate(site, schema.parse_gate(values, site)))
    db.session.commit()
    click.echo(f"gate {code} added")


@residents_cli.command("add")
@click.option("--login", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), default="resident", show_default=True)
@click.option("--site", "slug", help="community (staff; and residents with --unit)")
@click.option("--unit", help="building-number, e.g. A-1201 (residents)")
@click.option("--relation", type=click.Choice(RELATIONS), default="owner", show_default=True)
@click.password_option(help="at least 8 characters, not a common password")
def add_person(login, name, role, slug, unit, relation, password):
    """An account; residents move into --unit, staff belong to --site (admins without --site see all)."""
    site = cli_site(slug) if slug else None
    if role == "resident" and (site is None or not unit):
        raise click.ClickException("residents need --site and --unit")
    if role in ("guard", "manager") and site is None:
        raise click.ClickException("guards and managers need --site")
    try:
        user = create_user(login, password, role, name, site=None if role == "resident" else site)
    except FieldError as exc:
        raise click.ClickException(exc.message % exc.params) from None
    if role == "resident":
        building, _, number = unit.partition("-")
        places.move_in(user, _unit(site, building, number), relation)
    db.session.commit()
    click.echo(f"{role} {user.login} created" + (f"; TOTP secret {user.totp_secret}" if user.totp_secret else ""))


@residents_cli.command("move-out")
@click.option("--login", required=True)
@click.option("--site", "slug", required=True)
@click.option("--unit", required=True, help="building-number, e.g. A-1201")
def move_out(login, slug, unit):
    """End a residency now; every pass the resident issued for the unit is revoked at once."""
    site = cli_site(slug)
    building, _, number = unit.partition("-")
    target = _unit(site, building, number)
    user = queries.user_by_login(login)
    current = [r for r in (user.current_residencies() if user else []) if r.unit_id == target.id]
    if not current:
        raise click.ClickException(f"{login} does not live in {unit}")
    revoked = places.move_out(current[0])
    db.session.commit()
    click.echo(f"{login} moved out of {unit}; {len(revoked)} pass(es) revoked")


@residents_cli.command("import")
@click.option("--site", "slug", required=True)
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="show what would change; write nothing")
@click.option("--skip-errors", is_flag=True, help="apply the good rows even when others are in error")
@click.option("--create-places", is_flag=True, help="create buildings and units the file names that do not exist")
def import_roll(slug, file, dry_run, skip_errors, create_places):
    """Import the residents' roll (CSV: building,unit,name,phone,relation,move_in); the last line is JSON."""
    import json

    from portal.sites import roll, roll_import

    site = cli_site(slug)
    raw = file.read(roll.MAX_BYTES + 1)
    result = _checked(
        lambda: roll_import.import_roll(
            roll.plan(site, roll.decode(raw), create_places=create_places), skip_errors=skip_errors, dry_run=dry_run
        )
    )
    for e in result["errors"]:
        click.echo(f"row {e['row']} {e['field']}: {e['message']['en']} / {e['message']['zh']}", err=True)
    if result["applied"]:
        db.session.commit()
    else:
        db.session.rollback()
    click.echo(json.dumps(result, ensure_ascii=False))
    if result["errors"] and not result["applied"] and not dry_run:
        raise SystemExit(1)
