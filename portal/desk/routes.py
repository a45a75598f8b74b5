"""Desk pages: live board, stream, exceptions, shift handover, remote open, who is on site, contractors."""

from datetime import timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.alarms import queries as alarm_queries
from portal.alarms.serialize import alarm_json
from portal.core.errors import Refused, attempt, back_to
from portal.core.timeutil import utcnow
from portal.desk import labels, operations, queries
from portal.desk.access import DESK_ROLES, desk_site, site_object
from portal.desk.export import on_site_csv
from portal.desk.forms import flash_errors, form_int, form_text
from portal.desk.labels import EMERGENCY_LABELS, KIND_LABELS, OUTCOME_LABELS
from portal.desk.models import OUTCOMES, DeskException
from portal.desk.serialize import event_payload
from portal.desk.stream import stream_response

bp = Blueprint("desk", __name__, url_prefix="/desk")
# Globals, so imported macros see them too (macros do not get the context processors' names).
bp.add_app_template_global(labels.label, "label")
bp.add_app_template_global(labels.colon, "colon")
bp.add_app_template_global(labels.lp, "lp")
bp.add_app_template_global(labels.rp, "rp")


@bp.context_processor
def _labels():
    # Stored codes are shown through these tables, never passed to gettext raw.
    return {"outcome_labels": OUTCOME_LABELS}


@bp.app_context_processor
def _label_tables():
    # Every staff page (desk, devices, feedback, reports) shows codes through the same tables.
    return {
        "L_exception": labels.EXCEPTION_STATUS_LABELS,
        "L_request": labels.REQUEST_STATUS_LABELS,
        "L_kind": labels.PASS_KIND_LABELS,
        "L_direction": labels.DIRECTION_LABELS,
        "L_driver": labels.DRIVER_LABELS,
        "L_method": labels.METHOD_LABELS,
    }


@bp.get("/")
@page_roles(*DESK_ROLES)
def board():
    """The live board: recent events, filters, open exceptions, guard-approval share."""
    site = desk_site(current_user)
    decision = request.args.get("decision") if request.args.get("decision") in ("grant", "deny") else None
    gate_id = request.args.get("gate", type=int)
    hours = min(max(request.args.get("hours", 12, type=int), 1), 24 * 31)
    rows = queries.events(site.id, decision=decision, gate_id=gate_id, since=utcnow() - timedelta(hours=hours), limit=100)
    events = [event_payload(ev, site.timezone) for ev in rows]
    remote = queries.remote_details(rows)
    for e in events:
        e["remote"] = remote.get(e["id"])
    newest = max((e["id"] for e in events), default=None)
    if newest is None:
        newest = (queries.events(site.id, limit=1) or [None])[0]
        newest = newest.id if newest is not None else 0
    return render_template(
        "desk/board.html",
        site=site,
        events=events,
        gates=queries.gates(site.id),
        decision=decision,
        gate_id=gate_id,
        hours=hours,
        last_id=newest,
        open_exceptions=queries.exceptions(site.id, "open"),
        stats=queries.walk_in_stats(site.id),
        kind_labels=KIND_LABELS,
        shift=operations.current_shift(current_user, site.id),
        alarms=[alarm_json(a, site.timezone) for a in alarm_queries.alarms(site.id, "open")],
    )


@bp.get("/stream")
@page_roles(*DESK_ROLES)
def stream():
    """Server-sent events for the board (cookie session)."""
    return stream_response(desk_site(current_user).id)


@bp.get("/exceptions")
@page_roles(*DESK_ROLES)
def exceptions():
    """The exception queue."""
    site = desk_site(current_user)
    status = request.args.get("status", "open")
    return render_template(
        "desk/exceptions.html",
        site=site,
        items=queries.exceptions(site.id, status),
        status=status,
        kind_labels=KIND_LABELS,
        outcomes=[(o, OUTCOME_LABELS[o]) for o in OUTCOMES if o != "auto_resolved"],
    )


@bp.post("/exceptions/<int:exc_id>/take")
@page_roles(*DESK_ROLES)
def take(exc_id):
    """Take an exception."""
    back = back_to(url_for("desk.exceptions"))
    x = site_object(DeskException, exc_id, desk_site(current_user))
    operations.take_exception(x, current_user)
    flash(_("Exception #%(id)s is yours now.", id=x.id), "ok")
    return redirect(back)


@bp.post("/exceptions/<int:exc_id>/close")
@page_roles(*DESK_ROLES)
def close(exc_id):
    """Close an exception with an outcome."""
    back = back_to(url_for("desk.exceptions"))
    x = site_object(DeskException, exc_id, desk_site(current_user))
    operations.close_exception(x, current_user, form_text("outcome"), form_text("note"))
    flash(_("Exception closed."), "ok")
    return redirect(back)


@bp.post("/keypads/<int:device_id>/clear")
@page_roles(*DESK_ROLES)
def clear_keypad(device_id):
    """A keypad that saw a burst takes codes again (the exception stays until it is closed)."""
    from portal.devices.models import Device
    from portal.gate.throttle import clear_keypad

    clear_keypad(site_object(Device, device_id, desk_site(current_user)), current_user)
    flash(_("The keypad takes codes again."), "ok")
    return redirect(url_for("desk.exceptions"))


@bp.get("/shift")
@page_roles(*DESK_ROLES)
def shift():
    """Shift and handover: the previous shift's notes and every exception still open."""
    site = desk_site(current_user)
    return render_template(
        "desk/shift.html",
        site=site,
        shift=operations.current_shift(current_user, site.id),
        handover=queries.last_handover(site.id),
        open_exceptions=queries.exceptions(site.id, "open"),
        kind_labels=KIND_LABELS,
    )


@bp.post("/shift/start")
@page_roles(*DESK_ROLES)
def shift_start():
    """Start a shift."""
    operations.start_shift(current_user, desk_site(current_user).id)
    return redirect(url_for("desk.shift"))


@bp.post("/shift/end")
@page_roles(*DESK_ROLES)
def shift_end():
    """End a shift with handover notes."""
    back = back_to(url_for("desk.shift"))
    operations.end_shift(current_user, desk_site(current_user).id, form_text("notes"))
    flash(_("Shift ended; the next guard sees your notes and the open exceptions."), "ok")
    return redirect(back)


def _remote_open(site):
    device = queries.site_device(site.id, form_int("device_id"))
    if device is None:  # none sent, or another site's: refused like a bad field, as the page has no 404 of its own
        raise Refused("not_found", "Not found.", kind="not_found")
    return operations.remote_open(
        current_user,
        device,
        form_text("reason"),
        door=form_int("door"),
        emergency=form_text("emergency"),
        kind=form_text("kind") or "open",
    )


@bp.route("/remote", methods=["GET", "POST"])
@page_roles(*DESK_ROLES)
def remote():
    """Open a door, gate or barrier, or call a lift; emergency vehicles with one tap."""
    site = desk_site(current_user)
    status = 200
    if request.method == "POST":
        _sent, refusal = attempt(_remote_open, site)
        if refusal is None:
            flash(_("Command sent to the device."), "ok")
            return redirect(url_for("desk.remote"))
        flash_errors(refusal)  # the form is shown again with the devices; nothing of the refused open is kept
        status = 400
    return render_template("desk/remote.html", site=site, devices=queries.devices(site.id), emergencies=EMERGENCY_LABELS), status


@bp.get("/on-site")
@page_roles(*DESK_ROLES)
def on_site():
    """Roll call by building, printable; vehicles with their parking limit."""
    site = desk_site(current_user)
    rows = queries.on_site_shown(site)
    return render_template(
        "desk/onsite.html", site=site, groups=queries.by_building(rows), total=len(rows), vehicles=queries.vehicles_on_site(site)
    )


@bp.get("/on-site.csv")
@page_roles(*DESK_ROLES)
def on_site_csv_page():
    """Roll call as CSV."""
    site = desk_site(current_user)
    rows = queries.on_site_exported(site)
    return Response(
        on_site_csv(rows, labelled=True),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="on-site-{site.slug}.csv"'},
    )


@bp.get("/contractors")
@page_roles(*DESK_ROLES)
def contractors():
    """Contractors on site today (company, work area, hours) and couriers' passes."""
    site = desk_site(current_user)
    return render_template(
        "desk/contractors.html",
        site=site,
        contractors=queries.passes_of_kind(site, "contractor"),
        deliveries=queries.passes_of_kind(site, "delivery"),
    )
