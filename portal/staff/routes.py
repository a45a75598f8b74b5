"""Staff pages: managers list, add, disable, enable and reset; the new member's enrolment page."""

import base64

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.queries import site_scope
from portal.accounts.sessions import page_roles
from portal.core.errors import attempt
from portal.core.timeutil import local_text
from portal.desk.forms import error_messages
from portal.extensions import db
from portal.passes import qr
from portal.residents import operations as residents
from portal.residents import queries as roll
from portal.sites.models import Site
from portal.staff import operations, queries
from portal.staff.forms import FIELD_LABELS, ROLE_LABELS, EnrolForm, MemberForm

bp = Blueprint("staff", __name__, url_prefix="/staff")
enrol_bp = Blueprint("enrol", __name__, url_prefix="/enrol")


def _site():
    site_id = site_scope(current_user, request.args.get("site_id", type=int))
    return db.session.get(Site, site_id) if site_id else None


def _member(user_id):
    user = queries.visible_member(current_user, user_id)
    if user is None:
        abort(404)
    return user


def _render(form, link=None, link_for=None, status=200):
    site = _site()
    rows = queries.members(current_user, site.id if site else None)
    ids = [u.id for u in rows]
    zone = site.timezone if site else "UTC"
    last = {k: local_text(v, zone, "%Y-%m-%d %H:%M") for k, v in queries.last_logins(ids).items()}
    html = render_template(
        "staff/list.html",
        form=form,
        members=rows,
        last=last,
        pending=queries.pending_links(ids),
        exporters=roll.export_right_ids(ids) if current_user.role == "admin" else None,
        roles=ROLE_LABELS,
        link=link,
        link_for=link_for,
        site=site,
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.get("/")
@page_roles(*MANAGER_ROLES)
def index():
    """Guards and managers, with the form to add one."""
    return _render(MemberForm())


@bp.post("/")
@page_roles(*MANAGER_ROLES)
def add():
    """Add a member and show their enrolment link once (never stored in the session)."""
    form = MemberForm()
    site = _site()
    if not form.validate() or site is None:
        flash(_("Some fields are invalid."), "error")
        return _render(form, status=400)
    data = {"login": form.login.data, "name": form.name.data, "role": form.role.data, "phone": form.phone.data}
    added, refusal = attempt(operations.add_member, current_user, site, data)
    if refusal is not None:  # shown with the form again; the list reads nothing the refused add wrote
        for msg in error_messages(refusal, FIELD_LABELS):
            flash(msg, "error")
        return _render(form, status=400)
    member, plain = added
    return _render(MemberForm(formdata=None), link=operations.enrol_url(plain), link_for=member)


@bp.post("/<int:user_id>/disable")
@page_roles(*MANAGER_ROLES)
def disable(user_id):
    """Disable a member: their sessions and tokens end now."""
    operations.disable_member(current_user, _member(user_id))
    flash(_("Disabled; every session of this person has ended."), "ok")
    return redirect(url_for("staff.index"))


@bp.post("/<int:user_id>/enable")
@page_roles(*MANAGER_ROLES)
def enable(user_id):
    """Enable a member again."""
    operations.enable_member(current_user, _member(user_id))
    flash(_("Enabled."), "ok")
    return redirect(url_for("staff.index"))


@bp.post("/<int:user_id>/reset")
@page_roles(*MANAGER_ROLES)
def reset(user_id):
    """Reset the second factor and show the new enrolment link once."""
    member = _member(user_id)
    plain = operations.reset_second_factor(current_user, member)
    return _render(MemberForm(formdata=None), link=operations.enrol_url(plain), link_for=member)


@bp.post("/<int:user_id>/export-right")
@page_roles("admin")
def export_right(user_id):
    """Administrators: let a manager export the residents' roll with full phone numbers, or stop it."""
    manager = roll.manager_for(current_user, user_id)
    if manager is None:
        abort(404)
    allowed = request.form.get("allowed") == "1"
    residents.set_export_right(current_user, manager, allowed)
    if allowed:
        flash(_("%(name)s may now export the roll with full phone numbers.", name=manager.display_name), "ok")
    else:
        flash(_("%(name)s now exports the roll with masked phone numbers.", name=manager.display_name), "ok")
    return redirect(url_for("staff.index", site_id=request.args.get("site_id", type=int)))


def _qr_data_uri(link):
    uri = f"otpauth://totp/{link.user.login}?secret={link.totp_secret}&issuer=Visitor%20Portal"
    return "data:image/png;base64," + base64.b64encode(qr.png(uri, box_size=6)).decode()


@enrol_bp.route("/<enrol_token>", methods=("GET", "POST"))
def page(enrol_token):
    """Set a password (new members), then scan the QR and confirm a code."""
    link = operations.find_link(enrol_token)
    if link is None:
        return render_template("staff/enrol_gone.html"), 404, {"Cache-Control": "no-store"}
    form = EnrolForm()
    status = 200
    if request.method == "POST" and form.validate():
        completed, refusal = attempt(operations.complete, link, form.password.data, form.confirm.data, form.otp.data)
        if refusal is not None:
            for msg in error_messages(refusal, FIELD_LABELS):
                flash(msg, "error")
            link = operations.find_link(enrol_token)  # read again: the refused attempt's writes are gone
            if link is None:
                return render_template("staff/enrol_gone.html"), 410, {"Cache-Control": "no-store"}
            status = 400
        else:
            user, codes = completed
            # Shown once, on this answer only: never stored in the session or in plain text.
            html = render_template("staff/recovery_codes.html", member=user, codes=codes)
            return html, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    html = render_template(
        "staff/enrol.html",
        form=form,
        member=link.user,
        needs_password=not operations.has_password(link.user),
        qr_src=_qr_data_uri(link),
        secret=link.totp_secret,
    )
    return html, status, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
