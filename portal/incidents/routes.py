"""Desk pages for incidents (phone-friendly): the list, the form to log one, and the record with its actions."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, back_to, field_messages
from portal.desk.access import DESK_ROLES, desk_site, site_object
from portal.desk.forms import form_int, form_text
from portal.feedback.photos import photo_response
from portal.feedback.uploads import from_files
from portal.incidents import operations, queries
from portal.incidents.forms import report_from
from portal.incidents.labels import labels
from portal.incidents.models import KINDS, SEVERITIES, STATUSES, Incident
from portal.shifts.queries import offers_for, open_offer_ids
from portal.sites.models import Building

bp = Blueprint("incidents", __name__, url_prefix="/desk/incidents")


@bp.app_context_processor
def _tables():
    # The shift and handover pages show incidents too.
    return {"IL": labels()}


def _incident(incident_id):
    return site_object(Incident, incident_id, desk_site(current_user))


def _choice(name, allowed):
    value = request.args.get(name)
    return value if value in allowed else None


@bp.get("/")
@page_roles(*DESK_ROLES)
def index():
    """Unresolved first, then the latest; filters by status, kind and severity."""
    site = desk_site(current_user)
    status = _choice("status", (*STATUSES, "unresolved"))
    kind, severity = _choice("kind", KINDS), _choice("severity", SEVERITIES)
    rows = queries.list_for(site.id, status=status, kind=kind, severity=severity, limit=100)
    return render_template(
        "incidents/index.html",
        site=site,
        items=rows,
        offered=open_offer_ids(current_user.id, "incident"),
        args={"status": status, "kind": kind, "severity": severity},
    )


def _buildings(site):
    return Building.query.filter_by(site_id=site.id).order_by(Building.id).all()


def _log(site, data):
    values = report_from(data, site, default_source="phone" if data.get("source") == "phone" else "desk")
    return operations.create_incident(site, **values, reporter=current_user, photos=from_files(request.files))


@bp.route("/new", methods=["GET", "POST"])
@page_roles(*DESK_ROLES)
def new():
    """Log an incident with photos; the form comes back with what was typed when something is wrong."""
    site = desk_site(current_user)
    errors = {}
    if request.method == "POST":
        inc, refusal = attempt(_log, site, request.form.to_dict())
        if refusal is not None:  # the form is shown again with what was typed
            errors = field_messages(refusal)
        else:
            flash(_("Incident logged."), "ok")
            return redirect(url_for("incidents.show", incident_id=inc.id))
    form = request.form if request.method == "POST" else {}
    return render_template(
        "incidents/new.html", site=site, errors=errors, form=form, kinds=KINDS, severities=SEVERITIES, buildings=_buildings(site)
    ), (400 if errors else 200)


@bp.get("/<int:incident_id>")
@page_roles(*DESK_ROLES)
def show(incident_id):
    """The record: what, where, timeline, people, photos, and the next step's button."""
    inc = queries.shown(current_user, _incident(incident_id))
    return render_template(
        "incidents/show.html",
        site=desk_site(current_user),
        inc=inc,
        staff=queries.staff_of(inc.site_id),
        offers=offers_for("incident", inc.id),
    )


def _act(incident_id, fn, message):
    inc = _incident(incident_id)
    back = back_to(url_for("incidents.show", incident_id=inc.id))
    fn(inc)
    flash(message, "ok")
    return redirect(back)


@bp.post("/<int:incident_id>/acknowledge")
@page_roles(*DESK_ROLES)
def acknowledge(incident_id):
    """I have it."""
    return _act(incident_id, lambda i: operations.acknowledge(i, current_user, form_text("note")), _("Acknowledged."))


@bp.post("/<int:incident_id>/on-scene")
@page_roles(*DESK_ROLES)
def on_scene(incident_id):
    """I am there."""
    return _act(incident_id, lambda i: operations.on_scene(i, current_user, form_text("note")), _("Marked on scene."))


@bp.post("/<int:incident_id>/resolve")
@page_roles(*DESK_ROLES)
def resolve(incident_id):
    """Resolve with the closing report."""
    return _act(incident_id, lambda i: operations.resolve(i, current_user, form_text("report")), _("Incident resolved."))


@bp.post("/<int:incident_id>/assign")
@page_roles(*DESK_ROLES)
def assign(incident_id):
    """Put someone on it."""
    return _act(incident_id, lambda i: operations.assign(i, current_user, form_int("user_id")), _("Assigned."))


@bp.post("/<int:incident_id>/photos")
@page_roles(*DESK_ROLES)
def add_photos(incident_id):
    """Add photos."""
    return _act(incident_id, lambda i: operations.add_photos(i, current_user, from_files(request.files)), _("Photos added."))


@bp.get("/<int:incident_id>/photos/<int:photo_id>")
@page_roles(*DESK_ROLES)
def photo(incident_id, photo_id):
    """One photo, served safely."""
    inc = _incident(incident_id)
    p = queries.photo_shown(current_user, inc, photo_id)
    if p is None:
        abort(404)
    return photo_response(p)
