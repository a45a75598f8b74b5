"""Patrol pages: the guard's rounds and scanner, the managers' checkpoints, routes and stickers, hazards, the report."""

import base64
from datetime import date, datetime, time, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, back_to, invalid_field, refusal_page
from portal.core.timeutil import zone
from portal.core.validators import report_window
from portal.desk.access import desk_site, site_object
from portal.passes import qr
from portal.patrol import checkpoints, operations, queries, stickers
from portal.patrol.forms import HAZARD_LABELS, STATUS_LABELS, schedule_from, stops_from
from portal.patrol.models import Hazard, Round
from portal.patrol.models import Route as PatrolRoute

bp = Blueprint("patrol", __name__, url_prefix="/patrol")


def _render(template, **values):
    return (
        render_template(template, labels=STATUS_LABELS, hazard_labels=HAZARD_LABELS, **values),
        200,
        {"Cache-Control": "no-store"},
    )


@bp.get("/sw.js")
def service_worker():
    """The round page's service worker, served under /patrol/ so that it may control /patrol/rounds/ (offline opening)."""
    resp = send_from_directory(current_app.static_folder, "patrol-sw.js", mimetype="text/javascript", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"  # a new version reaches phones at their next visit
    return resp


@bp.get("/")
@page_roles(*STAFF_ROLES)
def index():
    """Routes to walk now, rounds due or under way, the latest rounds."""
    site = desk_site(current_user)
    return _render(
        "patrol/index.html",
        site=site,
        routes=queries.routes(site.id),
        rounds=queries.rounds(site.id, limit=30),
        mine=queries.rounds(site.id, guard_id=current_user.id, statuses=("active",)),
    )


@bp.post("/start")
@page_roles(*STAFF_ROLES)
def start():
    """Start a round of the chosen route and open its scanner."""
    back_to(url_for("patrol.index"))
    raw = request.form.get("route_id", "")
    route = site_object(PatrolRoute, int(raw) if raw.isdigit() and len(raw) < 10 else None, desk_site(current_user))
    rnd = operations.start_round(current_user, route)
    return redirect(url_for("patrol.walk", round_id=rnd.id))


@bp.get("/rounds/<int:round_id>")
@page_roles(*STAFF_ROLES)
def walk(round_id):
    """The round on the guard's phone: scan stickers (camera or typed code), report hazards, finish; works offline."""
    site = desk_site(current_user)
    rnd = site_object(Round, round_id, site)
    data = queries.round_json(rnd)
    return _render("patrol/walk.html", site=site, rnd=rnd, data=data, walking=rnd.guard_id == current_user.id)


@bp.get("/manage")
@page_roles(*MANAGER_ROLES)
def manage():
    """Checkpoints and routes, with the forms to add them."""
    site = desk_site(current_user)
    return _render("patrol/manage.html", site=site, checkpoints=queries.checkpoints(site.id), routes=queries.routes(site.id))


@bp.post("/checkpoints")
@page_roles(*MANAGER_ROLES)
def add_checkpoint():
    """Add a checkpoint."""
    back_to(url_for("patrol.manage"))
    checkpoints.add_checkpoint(current_user, desk_site(current_user), request.form.get("name"))
    flash(_("Checkpoint added; print its sticker from the stickers page."), "ok")
    return redirect(url_for("patrol.manage"))


@bp.post("/routes")
@page_roles(*MANAGER_ROLES)
def add_route():
    """Add a route."""
    back_to(url_for("patrol.manage"))
    raw_grace = request.form.get("grace_minutes", "5").strip()
    grace = int(raw_grace) if raw_grace.isdigit() and len(raw_grace) < 4 else -1
    checkpoints.add_route(
        current_user,
        desk_site(current_user),
        request.form.get("name"),
        stops_from(request.form.get("stops")),
        schedule_from(request.form),
        grace,
    )
    flash(_("Route added."), "ok")
    return redirect(url_for("patrol.manage"))


def _qr_src(text):
    return "data:image/png;base64," + base64.b64encode(qr.png(text, box_size=8)).decode()


@bp.get("/stickers")
@page_roles(*MANAGER_ROLES)
def stickers_page():
    """Printable stickers: each checkpoint's signed QR, its name and the code to type when the camera fails."""
    site = desk_site(current_user)
    items = [
        {"cp": cp, "src": _qr_src(stickers.payload(cp)), "code": stickers.manual_code(cp)}
        for cp in queries.checkpoints(site.id, active_only=True)
    ]
    return _render("patrol/stickers.html", site=site, items=items)


@bp.get("/hazards")
@page_roles(*STAFF_ROLES)
def hazards():
    """Hazards found on patrol, open ones first, with the form to close each."""
    site = desk_site(current_user)
    return _render("patrol/hazards.html", site=site, hazards=queries.hazards(site.id, open_first=True))


@bp.post("/hazards/<int:hazard_id>/close")
@page_roles(*STAFF_ROLES)
def close_hazard(hazard_id):
    """Close a hazard with what was done."""
    hz = site_object(Hazard, hazard_id, desk_site(current_user))
    back_to(url_for("patrol.hazards"))
    operations.close_hazard(current_user, hz, request.form.get("note"))
    flash(_("Hazard closed."), "ok")
    return redirect(url_for("patrol.hazards"))


def _dates_as_times(args, tz_name):
    """The page's day pickers (YYYY-MM-DD, site time) as the API's from/to, midnight to midnight; a bad day is refused."""
    out = {}
    for name, extra in (("from", 0), ("to", 1)):
        raw = (args.get(name) or "").strip()
        try:
            day = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise invalid_field(name, "invalid", "Give a date as YYYY-MM-DD.") from None
        if day is not None:
            out[name] = datetime.combine(day + timedelta(days=extra), time(), zone(tz_name)).isoformat()
    return out


@bp.get("/report")
@page_roles(*MANAGER_ROLES)
def report():
    """Rounds on time, late and missed, checkpoints missed, hazards found and closed, over a period."""
    site = desk_site(current_user)
    window, refusal = attempt(lambda: report_window(_dates_as_times(request.args, site.timezone)))
    if refusal is not None:  # the error page says why: a day that is no date, a period backwards or too long
        return refusal_page(refusal)
    start, end = window
    return _render("patrol/report.html", site=site, figures=queries.report(site.id, start, end), start=start, end=end)
