"""The resident's phone pages: list, invite, view, revoke, extend, resend."""
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.core.errors import ApiError, ValidationFailed
from portal.core.timeutil import utcnow, zone
from portal.extensions import db
from portal.notify.operations import latest_for_pass
from portal.passes import operations, queries
from portal.passes.forms import ExtendForm, PassForm, RevokeForm
from portal.passes.schema import parse_pass
from portal.sites.models import Unit

bp = Blueprint("resident", __name__, url_prefix="/my")


def _units():
    ids = queries.reachable_unit_ids(current_user)
    return db.session.scalars(db.select(Unit).where(Unit.id.in_(ids or {-1}))).all()


def _own_pass(pass_id):
    p = queries.get_for(current_user, pass_id)
    if p is None:
        abort(404)
    return p


@bp.get("/")
@page_roles("resident")
def index():
    """My passes."""
    return render_template("passes/list.html", passes=queries.list_for(current_user, limit=100), now=utcnow())


def _form_data(form, unit):
    tz = zone(unit.building.site.timezone)
    data = {
        "visitor": {"name": form.visitor_name.data, "phone": form.visitor_phone.data or None,
                    "id_number": form.visitor_id_number.data or None, "plate": form.visitor_plate.data or None},
        "kind": form.kind.data,
        "valid_from": form.valid_from.data.replace(tzinfo=tz).isoformat() if form.valid_from.data else None,
        "valid_until": form.valid_until.data.replace(tzinfo=tz).isoformat() if form.valid_until.data else None,
        "max_entries": form.max_entries.data if form.max_entries.data is not None else "unlimited",
        "floors": form.floors.data or None,
        "company": form.company.data, "work_area": form.work_area.data, "note": form.note.data,
        "notify": "sms" if form.visitor_phone.data else "none",
    }
    if form.daily_start.data or form.daily_end.data or form.days.data:
        data["schedule"] = {"days": form.days.data, "start": form.daily_start.data, "end": form.daily_end.data}
    return data


@bp.route("/passes/new", methods=["GET", "POST"])
@page_roles("resident")
def new_pass():
    """Invite a visitor from the phone."""
    units = _units()
    if not units:
        abort(403)
    form = PassForm()
    form.unit_id.choices = [(u.id, u.label) for u in units]
    unit = next((u for u in units if u.id == form.unit_id.data), units[0])
    form.floors.choices = [(f, str(f)) for f in unit.building.floor_range()]
    field_errors = {}
    if form.is_submitted():
        if form.validate():
            try:
                values = parse_pass(_form_data(form, unit), unit, unit.building.site)
            except ValidationFailed as exc:
                field_errors = {k: _(v[1], **(v[2] if len(v) > 2 else {})) for k, v in exc.fields.items()}
                # An emptied picker is missing, not malformed: the API's "with its offset" means nothing here.
                for f in (form.valid_from, form.valid_until):
                    if f.data is None and f.name in field_errors:
                        field_errors[f.name] = _("Choose a date and time.")
            else:
                p = operations.issue_pass(current_user, unit, values)
                flash(_("Pass created."), "ok")
                return redirect(url_for("resident.show_pass", pass_id=p.id))
        else:
            field_errors = {k: "; ".join(v) for k, v in form.errors.items()}
    elif not form.valid_from.data:
        tz = zone(unit.building.site.timezone)
        start = utcnow().astimezone(tz).replace(second=0, microsecond=0)
        form.valid_from.data = start.replace(tzinfo=None)
        form.valid_until.data = (start + timedelta(hours=4)).replace(tzinfo=None)
    status = 400 if field_errors else 200
    return render_template("passes/new.html", form=form, errors=field_errors), status


@bp.get("/passes/<int:pass_id>")
@page_roles("resident")
def show_pass(pass_id):
    """One pass, with SMS delivery status and actions."""
    p = _own_pass(pass_id)
    return render_template("passes/show.html", p=p, state=p.state(), messages=latest_for_pass(p.id),
                           link=operations.link_for(p.link_token), extend_form=ExtendForm(), revoke_form=RevokeForm())


@bp.post("/passes/<int:pass_id>/revoke")
@page_roles("resident")
def revoke(pass_id):
    """Revoke now."""
    p = _own_pass(pass_id)
    form = RevokeForm()
    operations.revoke_pass(p, current_user, form.reason.data)
    flash(_("Pass revoked."), "ok")
    return redirect(url_for("resident.show_pass", pass_id=p.id))


@bp.post("/passes/<int:pass_id>/extend")
@page_roles("resident")
def extend(pass_id):
    """Extend to a later end."""
    p = _own_pass(pass_id)
    form = ExtendForm()
    if not form.validate() or form.valid_until.data is None:
        flash(_("Give a new end date and time."), "error")
        return redirect(url_for("resident.show_pass", pass_id=p.id))
    try:
        operations.extend_pass(p, form.valid_until.data.replace(tzinfo=zone(p.timezone)))
    except ApiError as exc:
        db.session.rollback()  # the redirect would commit whatever the refused action wrote
        flash(_(exc.message), "error")
    else:
        flash(_("Pass extended."), "ok")
    return redirect(url_for("resident.show_pass", pass_id=p.id))


@bp.post("/passes/<int:pass_id>/resend")
@page_roles("resident")
def resend(pass_id):
    """Send the SMS again."""
    p = _own_pass(pass_id)
    try:
        operations.resend_pass(p, current_user)
    except ApiError as exc:
        db.session.rollback()  # the redirect would commit whatever the refused action wrote
        flash(_(exc.message), "error")
    else:
        flash(_("The SMS is on its way again."), "ok")
    return redirect(url_for("resident.show_pass", pass_id=p.id))
