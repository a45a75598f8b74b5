"""Residents' "My cars" (list, add, remove) and the managers' list with approval."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.queries import resident_unit, resident_units
from portal.accounts.sessions import page_roles
from portal.core.errors import back_to
from portal.desk.access import desk_site, site_object
from portal.vehicles import operations, queries
from portal.vehicles.forms import vehicle_data
from portal.vehicles.models import Vehicle

bp = Blueprint("vehicles", __name__)


@bp.get("/my/cars")
@page_roles("resident")
def mine():
    """My household's cars and the form to add one."""
    units = resident_units(current_user)
    cars = queries.for_units({u.id for u in units})
    sites = {u.building.site_id: u.building.site for u in units}
    limits = {site_id: queries.per_unit_limit(site) for site_id, site in sites.items()}
    approval = any(queries.need_approval(site) for site in sites.values())
    return render_template("vehicles/mine.html", cars=cars, units=units, limits=limits, approval=approval)


@bp.post("/my/cars")
@page_roles("resident")
def add():
    """Register a plate for one of my units."""
    back_to(url_for("vehicles.mine"))
    plate, unit_id = vehicle_data()
    car = operations.register(current_user, resident_unit(current_user, unit_id), plate)
    flash(_("Car added.") if car.status == "active" else _("Car added; it waits for the management's approval."), "ok")
    return redirect(url_for("vehicles.mine"))


@bp.post("/my/cars/<int:vehicle_id>/remove")
@page_roles("resident")
def remove(vehicle_id):
    """Remove one of my household's cars."""
    car = queries.get_for_resident(current_user, vehicle_id)
    if car is None:
        abort(404)
    back_to(url_for("vehicles.mine"))
    operations.remove(car)
    flash(_("Car removed."), "ok")
    return redirect(url_for("vehicles.mine"))


@bp.get("/vehicles/")
@page_roles(*MANAGER_ROLES)
def site_list():
    """The site's residents' cars, pending ones first, with approval."""
    site = desk_site(current_user)
    cars = queries.for_site(site.id, pending_first=True)
    return render_template("vehicles/site.html", site=site, cars=cars, approval=queries.need_approval(site))


@bp.post("/vehicles/<int:vehicle_id>/approve")
@page_roles(*MANAGER_ROLES)
def approve(vehicle_id):
    """Approve a pending car."""
    car = site_object(Vehicle, vehicle_id, desk_site(current_user))
    back_to(url_for("vehicles.site_list"))
    operations.approve(current_user, car)
    flash(_("Car approved."), "ok")
    return redirect(url_for("vehicles.site_list"))


@bp.post("/vehicles/<int:vehicle_id>/withdraw")
@page_roles(*MANAGER_ROLES)
def withdraw(vehicle_id):
    """Take an approval back: the car waits again and the barriers drop its plate."""
    car = site_object(Vehicle, vehicle_id, desk_site(current_user))
    back_to(url_for("vehicles.site_list"))
    operations.withdraw_approval(current_user, car)
    flash(_("Approval withdrawn: the barrier no longer opens for this car."), "ok")
    return redirect(url_for("vehicles.site_list"))
