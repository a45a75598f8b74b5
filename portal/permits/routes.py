"""Permit pages: a resident's applications and form; the site's permits and freight vehicles for staff."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.accounts.queries import resident_units
from portal.accounts.sessions import page_roles
from portal.core.errors import Refused, back_to
from portal.desk.access import desk_site, site_object
from portal.permits import documents, operations, queries
from portal.permits.forms import application_data
from portal.permits.models import FreightApproval

bp = Blueprint("permits", __name__)


@bp.get("/my/permits")
@page_roles("resident")
def mine():
    """My units' permits and the form to apply."""
    return render_template("permits/mine.html", permits=queries.list_for(current_user), units=resident_units(current_user))


@bp.post("/permits/apply")
@page_roles("resident", *MANAGER_ROLES)
def apply():
    """Apply from the form, with documents."""
    back = back_to(url_for("permits.mine") if current_user.role == "resident" else url_for("permits.site_list"))
    too_large = documents.guard_request(request)
    if too_large is not None:
        raise too_large
    data = application_data()
    operations.apply(current_user, queries.applicant_unit(current_user, data), data, documents.from_files(request.files))
    flash(_("Permit requested; it waits for the management's approval."), "ok")
    return redirect(back)


@bp.get("/permits/")
@page_roles(*STAFF_ROLES)
def site_list():
    """The site's permits (pending first) and freight approvals."""
    site = desk_site(current_user)
    permits = queries.list_for(current_user, pending_first=True)
    vacant = queries.vacant_units(site.id) if current_user.role in MANAGER_ROLES else []
    return render_template(
        "permits/site.html", site=site, permits=permits, freight=queries.freight_for_site(site.id), vacant=vacant
    )


def _permit(permit_id):
    permit = queries.get_for(current_user, permit_id)
    if permit is None:
        raise Refused("not_found", "No such permit.", kind="not_found")
    return permit


_ACTIONS = {
    "approve": (operations.approve, "Permit approved; the workers' passes are issued."),
    "refuse": (operations.refuse, "Permit refused."),
    "suspend": (operations.suspend, "Permit suspended; its passes are revoked."),
    "resume": (operations.resume, "Permit resumed; the workers get new passes."),
}


@bp.post("/permits/<int:permit_id>/<any(approve, refuse, suspend, resume):action>")
@page_roles(*MANAGER_ROLES)
def decide(permit_id, action):
    """A manager approves, refuses, suspends or resumes a permit."""
    back = back_to(url_for("permits.site_list"))
    fn, message = _ACTIONS[action]
    fn(_permit(permit_id), current_user, request.form.get("reason") or None)
    flash(_(message), "ok")
    return redirect(back)


@bp.post("/freight/")
@page_roles(*MANAGER_ROLES)
def add_freight():
    """Pre-approve a freight vehicle from the form (local date and times)."""
    back = back_to(url_for("permits.site_list"))
    site = desk_site(current_user)
    form = request.form
    data = {
        "plate": form.get("plate"),
        "company": form.get("company"),
        "purpose": form.get("purpose"),
        "valid_from": queries.local_iso(form.get("date"), form.get("start"), site.timezone),
        "valid_until": queries.local_iso(form.get("date"), form.get("end"), site.timezone),
    }
    operations.add_freight(current_user, site, data)
    flash(_("Freight vehicle approved."), "ok")
    return redirect(back)


@bp.post("/freight/<int:freight_id>/revoke")
@page_roles(*MANAGER_ROLES)
def revoke_freight(freight_id):
    """Withdraw a freight approval."""
    back = back_to(url_for("permits.site_list"))
    operations.revoke_freight(site_object(FreightApproval, freight_id, desk_site(current_user)), current_user)
    flash(_("Freight approval withdrawn."), "ok")
    return redirect(back)
