"""Desk pages: walk-ins, items, who is on site (printable, CSV), contractors and deliveries."""
from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.audit.operations import record
from portal.core.errors import ApiError
from portal.desk import queries, walkins
from portal.desk.access import DESK_ROLES, desk_site, site_object
from portal.desk.export import on_site_csv
from portal.desk.forms import form_text, item_data, refused, walk_in_data
from portal.desk.models import WalkIn
from portal.desk.routes import bp
from portal.extensions import db
from portal.sites.models import Building, Unit


def _units(site):
    return db.session.scalars(db.select(Unit).join(Building).where(Building.site_id == site.id)
                              .order_by(Building.code, Unit.number)).all()


@bp.route("/walk-ins", methods=["GET", "POST"])
@page_roles(*DESK_ROLES)
def walk_ins():
    """Register a walk-in and follow the host's answer."""
    site = desk_site(current_user)
    status = 200
    if request.method == "POST":
        try:
            w, _token = walkins.register_walk_in(current_user, site, walk_in_data())
        except ApiError as exc:
            refused(exc)
            status = 400
        else:
            if w.status == "refused":
                flash(_("This visitor is on the watchlist: refused. The exception is on the desk."), "error")
            else:
                flash(_("The host has been asked to approve."), "ok")
            return redirect(url_for("desk.walk_ins"))
    return render_template("desk/walkins.html", site=site, units=_units(site), gates=queries.gates(site.id),
                           items=queries.walk_ins(site.id, limit=50), stats=queries.walk_in_stats(site.id),
                           form=request.form), status


@bp.post("/walk-ins/<int:walk_in_id>/approve")
@page_roles(*DESK_ROLES)
def walk_in_approve(walk_in_id):
    """Approve without the host: only with a written reason."""
    w = site_object(WalkIn, walk_in_id, desk_site(current_user))
    try:
        walkins.approve_walk_in(w, current_user, by="guard", reason=form_text("reason"))
        flash(_("Approved by the desk; the reason is recorded."), "ok")
    except ApiError as exc:
        refused(exc)
    return redirect(url_for("desk.walk_ins"))


@bp.post("/walk-ins/<int:walk_in_id>/refuse")
@page_roles(*DESK_ROLES)
def walk_in_refuse(walk_in_id):
    """Refuse at the desk (for example the visitor left)."""
    w = site_object(WalkIn, walk_in_id, desk_site(current_user))
    try:
        walkins.refuse_walk_in(w, current_user, by="guard")
    except ApiError as exc:
        refused(exc)
    return redirect(url_for("desk.walk_ins"))


@bp.route("/items", methods=["GET", "POST"])
@page_roles(*DESK_ROLES)
def items():
    """Large items and renovation material in and out, with the host's approval."""
    site = desk_site(current_user)
    status = 200
    if request.method == "POST":
        try:
            walkins.register_item(current_user, site, item_data())
            flash(_("The host has been asked to approve."), "ok")
            return redirect(url_for("desk.items"))
        except ApiError as exc:
            refused(exc)
            status = 400
    return render_template("desk/items.html", site=site, units=_units(site), gates=queries.gates(site.id),
                           items=queries.items(site.id), form=request.form), status


@bp.get("/on-site")
@page_roles(*DESK_ROLES)
def on_site():
    """Roll call by building, printable; vehicles with their parking limit."""
    site = desk_site(current_user)
    rows = queries.on_site(site)
    record("pii.view", "on_site", site.id, site_id=site.id, fields=["name", "phone_masked"], count=len(rows))
    return render_template("desk/onsite.html", site=site, groups=queries.by_building(rows), total=len(rows),
                           vehicles=queries.vehicles_on_site(site))


@bp.get("/on-site.csv")
@page_roles(*DESK_ROLES)
def on_site_csv_page():
    """Roll call as CSV."""
    site = desk_site(current_user)
    rows = queries.on_site(site)
    record("pii.export", "on_site", site.id, site_id=site.id, count=len(rows))
    return Response(on_site_csv(rows, labelled=True), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="on-site-{site.slug}.csv"'})


@bp.get("/contractors")
@page_roles(*DESK_ROLES)
def contractors():
    """Contractors on site today (company, work area, hours) and couriers' passes."""
    site = desk_site(current_user)
    return render_template("desk/contractors.html", site=site, contractors=queries.passes_of_kind(site, "contractor"),
                           deliveries=queries.passes_of_kind(site, "delivery"))
