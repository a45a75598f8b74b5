"""The manager's console for places: communities, buildings with their units, gates, and the site's settings."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.queries import sees_every_site
from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, field_messages
from portal.extensions import db
from portal.feedback.forms import KIND_LABELS as FEEDBACK_KINDS
from portal.feedback.forms import PRIORITY_LABELS
from portal.passes.labels import KIND_LABELS
from portal.sites import operations as places
from portal.sites import queries, schema, settings
from portal.sites.models import Building, Gate, Site, Unit

bp = Blueprint("places", __name__, url_prefix="/team/community")

GATE_KIND_LABELS = {"pedestrian": _l("Pedestrians"), "vehicle": _l("Cars")}
SITE_FIELDS, BUILDING_FIELDS, GATE_FIELDS = schema.SITE_FIELDS, schema.BUILDING_FIELDS, schema.GATE_FIELDS
NO_STORE = {"Cache-Control": "no-store"}


def may_create(user):
    """An all-sites admin opens communities; so does a manager who has none yet (their first set-up)."""
    return user.site_id is None and user.role in MANAGER_ROLES


def visible_sites(user):
    """The communities a manager runs: their own; an all-sites admin's every one."""
    if user.site_id is not None:
        return [db.session.get(Site, user.site_id)]
    if sees_every_site(user):
        return db.session.scalars(db.select(Site).order_by(Site.name)).all()
    return []


def console_site(slug):
    """The community of this page, or a 404 when the user does not run it (another community does not exist for them)."""
    site = queries.managed_site(current_user, slug)
    if site is None:
        abort(404)
    return site


def _owned(model, obj_id, site):
    obj = db.session.get(model, obj_id) if 0 < obj_id < 2**31 else None
    owner = obj.building.site_id if isinstance(obj, Unit) else getattr(obj, "site_id", None)
    if obj is None or owner != site.id:
        abort(404)
    return obj


def _form(fields):
    return {k: request.form.get(k, "") for k in fields}


def _attempt(call, *args):
    """(result, None) or (None, {field: message in the page's language}) when the operation refused."""
    result, refusal = attempt(call, *args)
    return result, None if refusal is None else field_messages(refusal)


def _page(template, status=200, **ctx):
    ctx.setdefault("errors", {})
    ctx.setdefault("values", {})
    return render_template(template, gate_kinds=GATE_KIND_LABELS, **ctx), status, NO_STORE


@bp.get("/")
@page_roles(*MANAGER_ROLES)
def index():
    """The communities the user runs; with none, the form that opens the first one."""
    sites = visible_sites(current_user)
    if len(sites) == 1 and not may_create(current_user):
        return redirect(url_for("places.site", slug=sites[0].slug))
    return _page("sites/console/index.html", sites=sites, may_create=may_create(current_user), zones=schema.common_zones())


@bp.post("/")
@page_roles(*MANAGER_ROLES)
def create():
    """Open a community (with its first signing key)."""
    if not may_create(current_user):
        abort(403)
    values = _form(SITE_FIELDS)
    site, errors = _attempt(lambda: places.open_site(current_user, schema.parse_site(values)))
    if errors:
        ctx = dict(sites=visible_sites(current_user), may_create=True, zones=schema.common_zones())
        return _page("sites/console/index.html", 400, errors=errors, values=values, **ctx)
    flash(_("Community created. Add its buildings and gates."), "ok")
    return redirect(url_for("places.site", slug=site.slug))


def _site_page(site, status=200, **ctx):
    return _page("sites/console/site.html", status, site=site, zones=schema.common_zones(), **ctx)


@bp.get("/<slug>/")
@page_roles(*MANAGER_ROLES)
def site(slug):
    """A community: its details, buildings and gates."""
    return _site_page(console_site(slug))


@bp.post("/<slug>/")
@page_roles(*MANAGER_ROLES)
def update(slug):
    """Change a community's names, time zone, address or directions."""
    site = console_site(slug)
    values = _form(SITE_FIELDS[1:])
    changed, errors = _attempt(lambda: places.update_site(site, schema.parse_site(values, new=False)))
    if errors:
        return _site_page(console_site(slug), 400, errors={"site": errors}, values={"site": values})
    flash(_("Saved.") if changed else _("Nothing changed."), "ok")
    return redirect(url_for("places.site", slug=slug))


@bp.post("/<slug>/buildings")
@page_roles(*MANAGER_ROLES)
def add_building(slug):
    """Add a building with its floor range."""
    site = console_site(slug)
    values = _form(BUILDING_FIELDS)
    b, errors = _attempt(lambda: places.create_building(site, schema.parse_building(values)))
    if errors:
        return _site_page(console_site(slug), 400, errors={"building": errors}, values={"building": values})
    flash(_("Building %(name)s added.", name=b.name), "ok")
    return redirect(url_for("places.building", slug=slug, building_id=b.id))


@bp.post("/<slug>/gates")
@page_roles(*MANAGER_ROLES)
def add_gate(slug):
    """Add a gate."""
    site = console_site(slug)
    values = _form(GATE_FIELDS)
    _gate, errors = _attempt(lambda: places.create_gate(site, schema.parse_gate(values, site)))
    if errors:
        return _site_page(console_site(slug), 400, errors={"gate": errors}, values={"gate": values})
    flash(_("Gate added."), "ok")
    return redirect(url_for("places.site", slug=slug) + "#gates")


def _building_page(site, b, status=200, **ctx):
    return _page("sites/console/building.html", status, site=site, b=b, **ctx)


def _building_again(slug, building_id, status, **ctx):
    """The building page after a refusal, read again (the rollback expired what was loaded)."""
    site = console_site(slug)
    return _building_page(site, _owned(Building, building_id, site), status, **ctx)


@bp.get("/<slug>/buildings/<int:building_id>")
@page_roles(*MANAGER_ROLES)
def building(slug, building_id):
    """A building: its names, floors and units."""
    site = console_site(slug)
    return _building_page(site, _owned(Building, building_id, site))


@bp.post("/<slug>/buildings/<int:building_id>")
@page_roles(*MANAGER_ROLES)
def update_building(slug, building_id):
    """Change a building's names or floor range."""
    site = console_site(slug)
    b = _owned(Building, building_id, site)
    values = _form(BUILDING_FIELDS[1:])
    changed, errors = _attempt(lambda: places.update_building(b, schema.parse_building(values, new=False)))
    if errors:
        return _building_again(slug, building_id, 400, errors={"building": errors}, values={"building": values})
    flash(_("Saved.") if changed else _("Nothing changed."), "ok")
    return redirect(url_for("places.building", slug=slug, building_id=building_id))


@bp.post("/<slug>/buildings/<int:building_id>/delete")
@page_roles(*MANAGER_ROLES)
def delete_building(slug, building_id):
    """Remove a building nobody lives in."""
    site = console_site(slug)
    b = _owned(Building, building_id, site)
    _done, errors = _attempt(places.delete_building, b)
    if errors:
        return _building_again(slug, building_id, 409, errors={"delete": errors})
    flash(_("Building removed."), "ok")
    return redirect(url_for("places.site", slug=slug))


@bp.post("/<slug>/buildings/<int:building_id>/units")
@page_roles(*MANAGER_ROLES)
def add_unit(slug, building_id):
    """Add a unit to a building."""
    site = console_site(slug)
    b = _owned(Building, building_id, site)
    values = _form(("number", "floor"))
    _unit, errors = _attempt(lambda: places.create_unit(b, schema.parse_unit(values, b)))
    if errors:
        return _building_again(slug, building_id, 400, errors={"unit": errors}, values={"unit": values})
    flash(_("Unit added."), "ok")
    return redirect(url_for("places.building", slug=slug, building_id=building_id) + "#units")


@bp.post("/<slug>/units/<int:unit_id>")
@page_roles(*MANAGER_ROLES)
def update_unit(slug, unit_id):
    """Change a unit's number or floor; with `delete`, remove it."""
    site = console_site(slug)
    unit = _owned(Unit, unit_id, site)
    b_id = unit.building_id
    if request.form.get("delete"):
        _done, errors = _attempt(places.delete_unit, unit)
    else:
        values = _form(("number", "floor"))
        _done, errors = _attempt(lambda: places.update_unit(unit, schema.parse_unit(values, unit.building)))
    if errors:
        return _building_again(slug, b_id, 400, errors={f"unit-{unit_id}": errors})
    flash(_("Saved."), "ok")
    return redirect(url_for("places.building", slug=slug, building_id=b_id) + "#units")


@bp.get("/<slug>/gates/<int:gate_id>")
@page_roles(*MANAGER_ROLES)
def gate(slug, gate_id):
    """A gate's names, kind and building."""
    site = console_site(slug)
    return _page("sites/console/gate.html", site=site, gate=_owned(Gate, gate_id, site))


@bp.post("/<slug>/gates/<int:gate_id>")
@page_roles(*MANAGER_ROLES)
def update_gate(slug, gate_id):
    """Change a gate; with `delete`, remove it."""
    site = console_site(slug)
    g = _owned(Gate, gate_id, site)
    if request.form.get("delete"):
        _done, errors = _attempt(places.delete_gate, g)
        if not errors:
            flash(_("Gate removed."), "ok")
            return redirect(url_for("places.site", slug=slug) + "#gates")
        values = {}
    else:
        values = _form(GATE_FIELDS[1:])
        changed, errors = _attempt(lambda: places.update_gate(g, schema.parse_gate(values, site, new=False)))
        if not errors:
            flash(_("Saved.") if changed else _("Nothing changed."), "ok")
            return redirect(url_for("places.gate", slug=slug, gate_id=gate_id))
    site = console_site(slug)
    return _page("sites/console/gate.html", 400, site=site, gate=_owned(Gate, gate_id, site), errors=errors, values=values)


def _settings_page(site, status=200, **ctx):
    return _page(
        "sites/console/settings.html",
        status,
        site=site,
        current=settings.current(site),
        kinds=KIND_LABELS,
        priorities={**PRIORITY_LABELS, "help": FEEDBACK_KINDS["help"]},  # the "help" row: help requests' own SLA
        categories=settings_categories(),
        **ctx,
    )


def settings_categories():
    """Labels of the categories an SLA row can name ("security/urgent")."""
    from portal.feedback.forms import CATEGORY_LABELS

    return CATEGORY_LABELS


@bp.get("/<slug>/settings")
@page_roles(*MANAGER_ROLES)
def site_settings(slug):
    """Every setting of the community on one page."""
    return _settings_page(console_site(slug))


def settings_from_form(form, site):
    """The settings page's fields as the values settings.parse takes (a percent becomes a share)."""
    data = {}
    target = (form.get("satisfaction_target") or "").strip()
    try:
        data["satisfaction_target"] = float(target) / 100
    except ValueError:
        data["satisfaction_target"] = target
    for key in ("retention_days", "parking_minutes", "vehicles_per_unit", "contractor_max_days"):
        data[key] = form.get(key, "")
    for key in ("vehicles_need_approval", "contractor_passes_need_approval", "keypad_codes"):
        data[key] = bool(form.get(key))
    data["pass_max_days"] = {kind: form.get(f"pass_max_days.{kind}", "") for kind in settings.PASS_KINDS}
    data["feedback_sla"] = {
        row: [form.get(f"sla.{row}.respond", ""), form.get(f"sla.{row}.resolve", "")]
        for row in settings.value(site, "feedback_sla")
    }
    return data


@bp.post("/<slug>/settings")
@page_roles(*MANAGER_ROLES)
def save_settings(slug):
    """Validate every field, then store and audit what changed."""
    site = console_site(slug)
    changed, errors = _attempt(lambda: places.change_settings(site, settings.parse(settings_from_form(request.form, site))))
    if errors:
        return _settings_page(console_site(slug), 400, errors=errors, values=request.form)
    flash(_("Settings saved: %(n)s changed.", n=len(changed)), "ok")
    return redirect(url_for("places.site_settings", slug=slug))
