"""The desk's walk-in and item pages: register, follow the host's answer, approve or refuse at the desk."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, back_to
from portal.desk.access import DESK_ROLES, desk_site, site_object
from portal.desk.forms import flash_errors, form_text
from portal.desk.labels import REQUEST_STATUS_LABELS
from portal.desk.queries import gates, walk_in_stats
from portal.walkins import operations, queries
from portal.walkins.forms import item_data, walk_in_data
from portal.walkins.models import WalkIn

bp = Blueprint("walkins", __name__, url_prefix="/desk")


@bp.context_processor
def _labels():
    # Stored codes are shown through this table, never passed to gettext raw.
    return {"status_labels": REQUEST_STATUS_LABELS}


@bp.route("/walk-ins", methods=["GET", "POST"])
@page_roles(*DESK_ROLES)
def walk_ins():
    """Register a walk-in and follow the host's answer."""
    site = desk_site(current_user)
    status = 200
    if request.method == "POST":
        registered, refusal = attempt(operations.register_walk_in, current_user, site, walk_in_data())
        if refusal is not None:  # the list below reads nothing the refusal wrote
            flash_errors(refusal)
            status = 400
        else:
            w, _token = registered
            if w.status == "refused":
                flash(_("This visitor is on the watchlist: refused. The exception is on the desk."), "error")
            else:
                flash(_("The host has been asked to approve."), "ok")
            return redirect(url_for("walkins.walk_ins"))
    return render_template(
        "walkins/walkins.html",
        site=site,
        units=queries.units_by_building(site.id),
        gates=gates(site.id),
        items=queries.walk_ins(site.id, limit=50),
        stats=walk_in_stats(site.id),
        form=request.form,
    ), status


@bp.post("/walk-ins/<int:walk_in_id>/approve")
@page_roles(*DESK_ROLES)
def walk_in_approve(walk_in_id):
    """Approve without the host: only with a written reason."""
    back = back_to(url_for("walkins.walk_ins"))
    w = site_object(WalkIn, walk_in_id, desk_site(current_user))
    operations.approve_walk_in(w, current_user, by="guard", reason=form_text("reason"))
    flash(_("Approved by the desk; the reason is recorded."), "ok")
    return redirect(back)


@bp.post("/walk-ins/<int:walk_in_id>/refuse")
@page_roles(*DESK_ROLES)
def walk_in_refuse(walk_in_id):
    """Refuse at the desk (for example the visitor left)."""
    back = back_to(url_for("walkins.walk_ins"))
    w = site_object(WalkIn, walk_in_id, desk_site(current_user))
    operations.refuse_walk_in(w, current_user, by="guard")
    return redirect(back)


@bp.route("/items", methods=["GET", "POST"])
@page_roles(*DESK_ROLES)
def items():
    """Large items and renovation material in and out, with the host's approval."""
    site = desk_site(current_user)
    status = 200
    if request.method == "POST":
        _item, refusal = attempt(operations.register_item, current_user, site, item_data())
        if refusal is None:
            flash(_("The host has been asked to approve."), "ok")
            return redirect(url_for("walkins.items"))
        flash_errors(refusal)  # the list below reads nothing the refusal wrote
        status = 400
    return render_template(
        "walkins/items.html",
        site=site,
        units=queries.units_by_building(site.id),
        gates=gates(site.id),
        items=queries.items(site.id),
        form=request.form,
    ), status
