"""Desk pages: live board, stream, exceptions, shift handover, remote open."""
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.core.errors import ApiError
from portal.core.timeutil import utcnow
from portal.desk import labels, operations, queries
from portal.desk.access import DESK_ROLES, desk_site, site_object
from portal.desk.forms import form_int, form_text, refused
from portal.desk.labels import EMERGENCY_LABELS, KIND_LABELS, OUTCOME_LABELS, REQUEST_STATUS_LABELS
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
    return {"status_labels": REQUEST_STATUS_LABELS, "outcome_labels": OUTCOME_LABELS}


@bp.app_context_processor
def _label_tables():
    # Every staff page (desk, devices, feedback, reports) shows codes through the same tables.
    return {"L_exception": labels.EXCEPTION_STATUS_LABELS, "L_request": labels.REQUEST_STATUS_LABELS,
            "L_kind": labels.PASS_KIND_LABELS,
            "L_direction": labels.DIRECTION_LABELS, "L_driver": labels.DRIVER_LABELS, "L_method": labels.METHOD_LABELS}


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
    return render_template("desk/board.html", site=site, events=events, gates=queries.gates(site.id), decision=decision,
                           gate_id=gate_id, hours=hours, last_id=newest, open_exceptions=queries.exceptions(site.id, "open"),
                           stats=queries.walk_in_stats(site.id), kind_labels=KIND_LABELS,
                           shift=operations.current_shift(current_user, site.id))


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
    return render_template("desk/exceptions.html", site=site, items=queries.exceptions(site.id, status), status=status,
                           kind_labels=KIND_LABELS, outcomes=[(o, OUTCOME_LABELS[o]) for o in OUTCOMES if o != "auto_resolved"])


@bp.post("/exceptions/<int:exc_id>/take")
@page_roles(*DESK_ROLES)
def take(exc_id):
    """Take an exception."""
    x = site_object(DeskException, exc_id, desk_site(current_user))
    try:
        operations.take_exception(x, current_user)
        flash(_("Exception #%(id)s is yours now.", id=x.id), "ok")
    except ApiError as exc:
        refused(exc)
    return redirect(url_for("desk.exceptions"))


@bp.post("/exceptions/<int:exc_id>/close")
@page_roles(*DESK_ROLES)
def close(exc_id):
    """Close an exception with an outcome."""
    x = site_object(DeskException, exc_id, desk_site(current_user))
    try:
        operations.close_exception(x, current_user, form_text("outcome"), form_text("note"))
        flash(_("Exception closed."), "ok")
    except ApiError as exc:
        refused(exc)
    return redirect(url_for("desk.exceptions"))


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
    return render_template("desk/shift.html", site=site, shift=operations.current_shift(current_user, site.id),
                           handover=queries.last_handover(site.id), open_exceptions=queries.exceptions(site.id, "open"),
                           kind_labels=KIND_LABELS)


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
    try:
        operations.end_shift(current_user, desk_site(current_user).id, form_text("notes"))
        flash(_("Shift ended; the next guard sees your notes and the open exceptions."), "ok")
    except ApiError as exc:
        refused(exc)
    return redirect(url_for("desk.shift"))


def _devices(site):
    from portal.devices.models import Device
    from portal.extensions import db

    return db.session.scalars(db.select(Device).where(Device.site_id == site.id, Device.status.notin_(("removing", "removed")))
                              .order_by(Device.name)).all()


@bp.route("/remote", methods=["GET", "POST"])
@page_roles(*DESK_ROLES)
def remote():
    """Open a door, gate or barrier, or call a lift; emergency vehicles with one tap."""
    from portal.devices.models import Device

    site = desk_site(current_user)
    status = 200
    if request.method == "POST":
        try:
            device = site_object(Device, form_int("device_id"), site)
            operations.remote_open(current_user, device, form_text("reason"), door=form_int("door"),
                                   emergency=form_text("emergency"), kind=form_text("kind") or "open")
            flash(_("Command sent to the device."), "ok")
            return redirect(url_for("desk.remote"))
        except ApiError as exc:
            refused(exc)
            status = 400
    return render_template("desk/remote.html", site=site, devices=_devices(site), emergencies=EMERGENCY_LABELS), status


from portal.desk import pages  # noqa: E402,F401  (walk-ins, items, on site, contractors)
