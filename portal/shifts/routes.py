"""Shift pages: setting my post, the handovers with search, and one shift's record."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, back_to, field_messages
from portal.desk.access import DESK_ROLES, desk_site, id_arg, site_object
from portal.desk.forms import form_text
from portal.desk.labels import KIND_LABELS as EXCEPTION_LABELS
from portal.desk.models import Shift
from portal.desk.operations import current_shift
from portal.extensions import db
from portal.shifts import operations, queries
from portal.shifts.api import date_arg
from portal.shifts.models import GuardPost
from portal.sites.models import Building, Gate

bp = Blueprint("shifts", __name__, url_prefix="/desk")


@bp.app_template_global("post_form")
def post_form():
    """What the shift page's post form needs: my post, the site's buildings and gates (None off shift)."""
    site = desk_site(current_user)
    shift = current_shift(current_user, site.id)
    if shift is None:
        return None
    return {
        "post": db.session.get(GuardPost, shift.id),
        "buildings": db.session.scalars(db.select(Building).where(Building.site_id == site.id).order_by(Building.id)).all(),
        "gates": db.session.scalars(db.select(Gate).where(Gate.site_id == site.id).order_by(Gate.id)).all(),
    }


@bp.app_template_global("unresolved_incidents")
def unresolved_incidents():
    """The site's unresolved incidents, for the shift page: the next guard takes them over."""
    from portal.incidents.queries import list_for

    return list_for(desk_site(current_user).id, status="unresolved", limit=50)


@bp.post("/shift/post")
@page_roles(*DESK_ROLES)
def set_post():
    """Set my post from the shift page: "gate:<id>", "building:<id>" or "patrol"."""
    back = back_to(url_for("desk.shift"))
    kind, _sep, ref = (form_text("post") or "").partition(":")
    ref_id = int(ref) if ref.isascii() and ref.isdigit() and len(ref) < 10 else None
    operations.set_post(
        current_user,
        desk_site(current_user),
        kind,
        building_id=ref_id if kind == "building" else None,
        gate_id=ref_id if kind == "gate" else None,
    )
    flash(_("Your post is set."), "ok")
    return redirect(back)


@bp.get("/handovers")
@page_roles(*DESK_ROLES)
def handovers():
    """Every handover, searchable by date, guard and text."""
    site = desk_site(current_user)
    dates, refusal = attempt(lambda: (date_arg("from"), date_arg("to")))
    if refusal is not None:  # the search form is shown again, unfiltered by date, with why
        flash("; ".join(field_messages(refusal).values()), "error")
    first, last = dates or (None, None)
    text = (request.args.get("q") or "").strip()[:100] or None
    guard_id = id_arg("guard_id")
    rows = queries.handovers(site, text=text, guard_id=guard_id, first=first, last=last, limit=100)
    return render_template(
        "shifts/handovers.html",
        site=site,
        items=rows,
        guards=queries.shift_guards(site.id),
        args={
            "q": text or "",
            "guard_id": guard_id,
            "from": first.isoformat() if first else "",
            "to": last.isoformat() if last else "",
        },
    )


@bp.get("/handovers/<int:shift_id>")
@page_roles(*DESK_ROLES)
def handover(shift_id):
    """One shift: its notes, the incidents, exceptions and alarms it saw, what it handed over."""
    site = desk_site(current_user)
    shift = site_object(Shift, shift_id, site)
    return render_template(
        "shifts/handover.html",
        site=site,
        shift=shift,
        rec=queries.shift_record(shift),
        exception_labels=EXCEPTION_LABELS,
    )
