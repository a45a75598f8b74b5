"""Residents' pages: who has not activated (with resend), the unit page (move in, move out), the roll export, activation."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.sessions import page_roles, start_session
from portal.core.errors import attempt, back_to
from portal.core.timeutil import local, local_text, utcnow
from portal.desk.access import desk_site
from portal.desk.forms import error_messages
from portal.residents import operations, queries
from portal.residents.api import csv_response
from portal.residents.export import roll_csv
from portal.residents.forms import FIELD_LABELS, LINK_STATES, RELATION_LABELS, ActivateForm, MoveInForm

bp = Blueprint("residents", __name__, url_prefix="/team")
activate_bp = Blueprint("activate", __name__, url_prefix="/activate")
NO_STORE = {"Cache-Control": "no-store"}
PER_PAGE = 200  # a 5,000-home roll is 25 pages, not one page of 5,000 rows


@bp.get("/residents/")
@page_roles(*MANAGER_ROLES)
def index():
    """Residents living here now; ?activated=0 shows who has not set a password yet."""
    site = desk_site(current_user)
    flag = request.args.get("activated")
    activated = None if flag not in ("0", "1") else flag == "1"
    everyone = queries.residents(site, activated)
    pages = max(1, -(-len(everyone) // PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    rows = queries.residents_shown(current_user, site, everyone[(page - 1) * PER_PAGE : page * PER_PAGE])
    html = render_template(
        "residents/list.html",
        site=site,
        rows=rows,
        page=page,
        pages=pages,
        total=len(everyone),
        activated=flag if activated is not None else "",
        states=LINK_STATES,
        relations=RELATION_LABELS,
        state=queries.link_state,
        when=lambda v: local_text(v, site.timezone) if v else "",
        may_export=operations.may_export(current_user),
        activated_now=operations.is_activated,
    )
    return html, 200, NO_STORE


@bp.post("/residents/<int:resident_id>/activation")
@page_roles(*MANAGER_ROLES)
def resend(resident_id):
    """Send a new activation link; the old one stops working."""
    back = back_to(_unit_back() or url_for("residents.index", activated=0))
    resident, site = queries.resident_for(current_user, resident_id)
    if resident is None:
        abort(404)
    operations.resend(current_user, resident, site)
    flash(_("A new activation link was sent by SMS; the old one no longer works."), "ok")
    return redirect(back)


def _unit_back():
    """The unit page the button was on, when it was on one."""
    unit_id = request.form.get("unit_id", type=int)
    return url_for("residents.unit", unit_id=unit_id) if unit_id and 0 < unit_id < 2**31 else None


@bp.get("/residents/export.csv")
@page_roles(*MANAGER_ROLES)
def export():
    """The roll as CSV, in the import's columns; phones masked without the export right."""
    site = desk_site(current_user)
    text, masked = roll_csv(current_user, site)
    return csv_response(text, site, masked)


@bp.get("/units/")
@page_roles(*MANAGER_ROLES)
def units():
    """Every unit with how many live there; each opens its unit page."""
    site = desk_site(current_user)
    return render_template("residents/units.html", site=site, units=queries.units(site))


def _unit_or_404(unit_id):
    unit = queries.unit_for(current_user, unit_id)
    if unit is None:
        abort(404)
    return unit


def _render_unit(unit, form, status=200):
    site = unit.building.site
    current, past = queries.unit_households_shown(current_user, unit)
    links = queries.latest_links([r.user_id for r in current])
    html = render_template(
        "residents/unit.html",
        unit=unit,
        site=site,
        form=form,
        current=current,
        past=past,
        links=links,
        states=LINK_STATES,
        state=queries.link_state,
        activated=operations.is_activated,
        relations=RELATION_LABELS,
        day=lambda v: local(v, site.timezone).date().isoformat() if v else "",
        when=lambda v: local_text(v, site.timezone) if v else "",
        today=local(utcnow(), site.timezone).date().isoformat(),
    )
    return html, status, NO_STORE


@bp.get("/units/<int:unit_id>")
@page_roles(*MANAGER_ROLES)
def unit(unit_id):
    """A unit's current and past residents, with move in and move out."""
    unit = _unit_or_404(unit_id)
    form = MoveInForm(formdata=None)
    form.move_in.data = local(utcnow(), unit.building.site.timezone).date().isoformat()
    return _render_unit(unit, form)


@bp.post("/units/<int:unit_id>/move-in")
@page_roles(*MANAGER_ROLES)
def move_in(unit_id):
    """Move a resident in; a new person gets the activation SMS."""
    unit = _unit_or_404(unit_id)
    form = MoveInForm()
    if not form.validate():
        flash(_("Some fields are invalid."), "error")
        return _render_unit(unit, form, 400)
    data = {"name": form.name.data, "phone": form.phone.data, "relation": form.relation.data, "move_in": form.move_in.data}
    r, refusal = attempt(operations.add_to_unit, current_user, unit, data)
    if refusal is not None:  # shown with the form again; the unit's list reads nothing the refusal wrote
        for msg in error_messages(refusal, FIELD_LABELS):
            flash(msg, "error")
        return _render_unit(unit, form, 400)
    flash(_("%(name)s moved in.", name=r.user.display_name), "ok")
    return redirect(url_for("residents.unit", unit_id=unit.id))


@bp.post("/units/<int:unit_id>/move-out/<int:residency_id>")
@page_roles(*MANAGER_ROLES)
def move_out(unit_id, residency_id):
    """Move a resident out on a day: their passes are revoked; the last one out takes the household's cars."""
    unit = _unit_or_404(unit_id)
    back_to(url_for("residents.unit", unit_id=unit.id))
    r = queries.residency_for(current_user, residency_id)
    if r is None or r.unit_id != unit.id:
        abort(404)
    revoked = operations.move_out_on(current_user, r, request.form.get("date", ""))  # a refusal flashes and comes back
    flash(_("%(name)s moved out; %(n)s passes revoked.", name=r.user.display_name, n=len(revoked)), "ok")
    return redirect(url_for("residents.unit", unit_id=unit.id))


HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@activate_bp.route("/<token>", methods=("GET", "POST"))
def page(token):
    """The resident sets their first password, and is then logged in."""
    link = operations.find_link(token)
    if not operations.is_open(link):
        return render_template("residents/activate_gone.html"), 410 if link is not None else 404, HEADERS
    form = ActivateForm()
    status = 200
    if request.method == "POST" and form.validate():
        user, refusal = attempt(operations.activate, link, form.password.data, form.confirm.data)
        if refusal is not None:
            if refusal.kind == "gone":
                return render_template("residents/activate_gone.html"), 410, HEADERS
            for msg in error_messages(refusal, FIELD_LABELS):
                flash(msg, "error")
            link = operations.find_link(token)
            status = 400
        else:
            start_session(user)
            flash(_("Your password is set. Welcome!"), "ok")
            return redirect(url_for("resident.index"))
    return render_template("residents/activate.html", form=form, person=link.user), status, HEADERS
