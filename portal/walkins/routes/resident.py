"""The host's pages: pending walk-ins and items in the portal, and the SMS link (token) page."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.core.errors import back_to
from portal.extensions import db
from portal.passes.queries import reachable_unit_ids
from portal.walkins import operations, queries
from portal.walkins.models import ItemMovement, WalkIn

bp = Blueprint("host", __name__, url_prefix="/host")
_MODELS = {"w": WalkIn, "i": ItemMovement}


def _decide(kind, obj, user, approve):
    """Answer a request; a refusal (already answered, timed out) flashes and goes back to the page set with back_to."""
    if kind == "w":
        if approve:
            operations.approve_walk_in(obj, user, by="host")
        else:
            operations.refuse_walk_in(obj, user, by="host")
    else:
        operations.decide_item(obj, user, approve)
    flash(_("Approved.") if approve else _("Refused."), "ok")


@bp.get("/approvals")
@page_roles("resident")
def approvals():
    """Requests from the gate waiting for my answer."""
    w, i = queries.pending_for_units(reachable_unit_ids(current_user))
    return render_template("walkins/host_approvals.html", walk_ins=w, items=i)


@bp.post("/approvals/<any(w,i):kind>/<int:obj_id>")
@page_roles("resident")
def answer(kind, obj_id):
    """Approve or refuse from the portal."""
    back = back_to(url_for("host.approvals"))
    obj = db.session.get(_MODELS[kind], obj_id)
    if obj is None or obj.unit_id not in reachable_unit_ids(current_user):
        abort(404)
    _decide(kind, obj, current_user, request.form.get("action") == "approve")
    return redirect(back)


@bp.route("/a/<any(w,i):kind>/<token>", methods=["GET", "POST"])
def by_link(kind, token):
    """The SMS link: the unguessable token stands in for a login; answering is a POST with CSRF."""
    obj = queries.by_token(kind, token)
    if obj is None:
        abort(404)
    if request.method == "POST" and request.form.get("action") in ("approve", "refuse"):
        back = back_to(url_for("host.by_link", kind=kind, token=token))
        user = current_user if current_user.is_authenticated and obj.unit_id in reachable_unit_ids(current_user) else None
        _decide(kind, obj, user, request.form.get("action") == "approve")
        return redirect(back)
    return render_template("walkins/host_link.html", kind=kind, obj=obj)
