"""The resident's phone pages: list, invite, view, revoke, extend, resend."""

from datetime import timedelta

from flask import Blueprint, abort, flash, has_request_context, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.queries import resident_units
from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, back_to, field_messages
from portal.core.timeutil import utcnow, zone
from portal.core.validators import mask_phone
from portal.notify.operations import latest_for_pass
from portal.passes import operations, queries
from portal.passes.forms import KIND_FIELDS, ExtendForm, PassForm, RevokeForm
from portal.passes.schema import parse_pass

bp = Blueprint("resident", __name__, url_prefix="/my")


def _own_pass(pass_id):
    p = queries.get_for(current_user, pass_id)
    if p is None:
        abort(404)
    return p


def nav_counts():
    """Template context: how many walk-ins and deliveries wait for this resident's answer (the nav's Approvals)."""
    if not has_request_context() or not current_user.is_authenticated or current_user.role != "resident":
        return {}
    from portal.walkins.queries import waiting_for

    return {"approvals_waiting": waiting_for(current_user)}


@bp.get("/")
@page_roles("resident")
def index():
    """My passes: current ones by default; live, upcoming or past on request."""
    view = request.args.get("show", "current")
    if view not in queries.VIEWS:
        view = "current"
    passes = queries.list_for(current_user, limit=100, states=queries.VIEWS[view])
    return render_template("passes/list.html", passes=passes, now=utcnow(), view=view, views=VIEW_LABELS)


VIEW_LABELS = {"current": _l("Current"), "live": _l("Valid now"), "upcoming": _l("Upcoming"), "past": _l("Past")}

# Invite presets: kind, length of the window, entries, and a weekly schedule for the cleaner.
PRESETS = {
    "guest": {"kind": "guest", "minutes": 120, "entries": 1},
    "delivery": {"kind": "delivery", "minutes": 30, "entries": 1},
    "cleaner": {"kind": "service", "minutes": 90 * 24 * 60, "entries": None, "weekly": ("09:00", "12:00")},
}
PRESET_LABELS = {"guest": _l("Guest today, 2 h"), "delivery": _l("Delivery, 30 min"), "cleaner": _l("Cleaner, weekly")}


def _apply_preset(form, name, tz):
    preset = PRESETS.get(name, PRESETS["guest"])
    start = utcnow().astimezone(tz).replace(second=0, microsecond=0)
    form.kind.data = preset["kind"]
    form.valid_from.data = start.replace(tzinfo=None)
    form.valid_until.data = (start + timedelta(minutes=preset["minutes"])).replace(tzinfo=None)
    form.max_entries.data = preset["entries"]
    form.unlimited.data = preset["entries"] is None
    if "weekly" in preset:
        form.days.data = [start.isoweekday()]
        form.daily_start.data, form.daily_end.data = preset["weekly"]


def _form_data(form, unit):
    tz = zone(unit.building.site.timezone)
    data = {
        "visitor": {
            "name": form.visitor_name.data,
            "phone": form.visitor_phone.data or None,
            "id_number": form.visitor_id_number.data or None,
            "plate": form.visitor_plate.data or None,
        },
        "kind": form.kind.data,
        "valid_from": form.valid_from.data.replace(tzinfo=tz).isoformat() if form.valid_from.data else None,
        "valid_until": form.valid_until.data.replace(tzinfo=tz).isoformat() if form.valid_until.data else None,
        "floors": form.floors.data or None,
        "company": form.company.data,
        "work_area": form.work_area.data,
        "note": form.note.data,
        "notify": "sms" if form.visitor_phone.data else "none",
    }
    if form.unlimited.data:
        data["max_entries"] = "unlimited"
    elif form.max_entries.data is not None:
        data["max_entries"] = form.max_entries.data
    # else: the API's default, one entry (unlimited for a recurring pass)
    if form.daily_start.data or form.daily_end.data or form.days.data:
        data["schedule"] = {"days": form.days.data, "start": form.daily_start.data, "end": form.daily_end.data}
    return data


@bp.route("/passes/new", methods=["GET", "POST"])
@page_roles("resident")
def new_pass():
    """Invite a visitor from the phone."""
    units = resident_units(current_user)
    if not units:
        abort(403)
    form = PassForm()
    form.unit_id.choices = [(u.id, u.label) for u in units]
    unit = next((u for u in units if u.id == form.unit_id.data), units[0])
    form.floors.choices = [(f, str(f)) for f in unit.building.floor_range()]
    field_errors = {}
    if form.is_submitted():
        if form.validate():
            values, refusal = attempt(parse_pass, _form_data(form, unit), unit, unit.building.site)
            if refusal is not None:  # the form is shown again, each reason under its field
                field_errors = field_messages(refusal)
                # An emptied picker is missing, not malformed: the API's "with its offset" means nothing here.
                for f in (form.valid_from, form.valid_until):
                    if f.data is None and f.name in field_errors:
                        field_errors[f.name] = _("Choose a date and time.")
            else:
                p = operations.issue_pass(current_user, unit, values)
                if p.status == "awaiting_approval":
                    flash(_("Pass created; it waits for the management's approval before it opens the gate."), "ok")
                else:
                    flash(_("Pass created."), "ok")
                return redirect(url_for("resident.show_pass", pass_id=p.id))
        else:
            field_errors = {k: "; ".join(v) for k, v in form.errors.items()}
    else:
        _apply_preset(form, request.args.get("preset", "guest"), zone(unit.building.site.timezone))
    status = 400 if field_errors else 200
    return render_template(
        "passes/new.html", form=form, errors=field_errors, presets=PRESET_LABELS, kind_fields=KIND_FIELDS
    ), status


@bp.get("/passes/<int:pass_id>")
@page_roles("resident")
def show_pass(pass_id):
    """One pass, with SMS delivery status and actions."""
    p = _own_pass(pass_id)
    return render_template(
        "passes/show.html",
        p=p,
        state=p.state(),
        messages=latest_for_pass(p.id),
        link=operations.link_for(p.link_token),
        extend_form=ExtendForm(),
        revoke_form=RevokeForm(),
        phone=mask_phone(p.visitor_phone),
        share_text=_("Your visitor pass for %(unit)s", unit=p.unit.label),
    )


@bp.post("/passes/<int:pass_id>/revoke")
@page_roles("resident")
def revoke(pass_id):
    """Revoke now."""
    p = _own_pass(pass_id)
    form = RevokeForm()
    operations.revoke_pass(p, current_user, form.reason.data)
    flash(_("Pass revoked."), "ok")
    return redirect(url_for("resident.show_pass", pass_id=p.id))


EXTEND_STEPS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}


@bp.post("/passes/<int:pass_id>/extend")
@page_roles("resident")
def extend(pass_id):
    """Extend to a later end."""
    p = _own_pass(pass_id)
    form = ExtendForm()
    step = EXTEND_STEPS.get(request.form.get("add"))
    if form.validate() and step is not None:
        new_until = p.valid_until + step
    elif form.validate() and form.valid_until.data is not None:
        new_until = form.valid_until.data.replace(tzinfo=zone(p.timezone))
    else:
        flash(_("Give a new end date and time."), "error")
        return redirect(url_for("resident.show_pass", pass_id=p.id))
    back = back_to(url_for("resident.show_pass", pass_id=p.id))
    operations.extend_pass(p, new_until)
    flash(_("Pass extended."), "ok")
    return redirect(back)


@bp.post("/passes/<int:pass_id>/resend")
@page_roles("resident")
def resend(pass_id):
    """Send the SMS again."""
    p = _own_pass(pass_id)
    back = back_to(url_for("resident.show_pass", pass_id=p.id))
    operations.resend_pass(p, current_user)
    flash(_("The SMS is on its way again."), "ok")
    return redirect(back)
