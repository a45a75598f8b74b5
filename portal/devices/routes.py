"""Device pages: the desk sees push status; managers add, edit, remove, retry, test and hand out tokens."""

import base64
import re
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.accounts.queries import sees_every_site, site_scope
from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, back_to, refusal_page
from portal.core.timeutil import local_text, utcnow
from portal.desk.forms import FIELD_LABELS, error_messages
from portal.desk.labels import DRIVER_LABELS, label
from portal.devices import changes, drivers, forms, operations, queries
from portal.devices.api import CRED_STATUSES, check_json, event_health
from portal.devices.forms import KIND_LABELS, DeviceAddForm, DeviceEditForm, TokenForm
from portal.devices.models import Device
from portal.extensions import db
from portal.passes import qr
from portal.sites.models import Building, Gate, Site

bp = Blueprint("devices", __name__, url_prefix="/devices")
VIEW_ROLES = STAFF_ROLES
MANAGE_ROLES = MANAGER_ROLES
DEVICE_FIELDS = FIELD_LABELS | {"name": _l("Device name")}


def _site_id():
    """The user's site; administrators of every site may pick one with ?site_id=."""
    return site_scope(current_user, request.args.get("site_id", type=int))


def _device(device_id):
    device = db.session.get(Device, device_id) if 0 < device_id < 2**31 else None
    foreign = device is not None and not sees_every_site(current_user) and device.site_id != current_user.site_id
    if device is None or device.status == "removed" or foreign:
        abort(404)
    return device


def _number_order(key):
    """p10 after p9: credentials sorted by their number, not as text."""
    match = re.search(r"\d+", key or "")
    return (key[: match.start()] if match else key or "", int(match.group()) if match else -1, key or "")


def _gates(device):
    """The gates a device serves, by name in the page's language."""
    if not device.gate_ids:
        return []
    gates = db.session.scalars(db.select(Gate).where(Gate.id.in_(device.gate_ids))).all()
    english = get_locale().language == "en"
    return sorted(gates, key=lambda g: ((g.name_en if english and g.name_en else g.name) or "").casefold())


def _flash_error(exc):
    for msg in error_messages(exc, DEVICE_FIELDS):
        flash(msg, "error")


@bp.get("/")
@page_roles(*VIEW_ROLES)
def index():
    """Every device with its sync state and credential counts."""
    rows = queries.summaries(_site_id())
    zones = dict(db.session.execute(db.select(Site.slug, Site.timezone)).all())
    # Shown in each device's site's time, as every other page shows times.
    seen = {
        r["id"]: local_text(datetime.fromisoformat(r["last_seen_at"]), zones.get(r["site"], "UTC"), "%Y-%m-%d %H:%M:%S")
        for r in rows
        if r["last_seen_at"]
    }
    return render_template(
        "devices/list.html",
        devices=rows,
        health=event_health([r["id"] for r in rows]),
        seen=seen,
        kinds=KIND_LABELS,
        can_manage=current_user.role in MANAGE_ROLES,
    )


@bp.get("/<int:device_id>")
@page_roles(*VIEW_ROLES)
def show(device_id):
    """One device: what it holds, what is pending, what failed and why."""
    device = _device(device_id)
    status = request.args.get("status")
    status = status if status in CRED_STATUSES else None
    summary = next((s for s in queries.summaries(device.site_id) if s["id"] == device.id), None)
    creds = sorted(queries.credentials_on(device.id, status), key=lambda c: _number_order(c.key))
    can_manage = current_user.role in MANAGE_ROLES
    check_id = request.args.get("check", type=int)
    state = queries.check_state(device, check_id) if can_manage and check_id else None
    check = check_json(state) if state else None
    return render_template(
        "devices/show.html",
        device=device,
        summary=summary,
        creds=creds[:1000],
        total=len(creds),
        gates=_gates(device),
        status=status,
        statuses=CRED_STATUSES,
        options=changes.masked(device.options or {}),
        health=event_health([device.id]).get(device.id),
        kinds=KIND_LABELS,
        can_manage=can_manage,
        check=check,
        tokens=queries.all_tokens(device)[:50] if can_manage else [],
        token_form=TokenForm(formdata=None) if can_manage else None,
        now=utcnow(),
    )


def _places(form, site_id):
    """Offer the site's gates and buildings; returns ({gate id: code}, {building id: code}) to map choices back."""
    english = get_locale().language == "en"
    gates = db.session.scalars(db.select(Gate).where(Gate.site_id == site_id).order_by(Gate.code)).all()
    buildings = db.session.scalars(db.select(Building).where(Building.site_id == site_id).order_by(Building.code)).all()

    def name(x):
        return (x.name_en if english and x.name_en else x.name) or x.code

    form.set_places([(str(g.id), name(g)) for g in gates], [(str(b.id), name(b)) for b in buildings])
    return {g.id: g.code for g in gates}, {b.id: b.code for b in buildings}


def _spec(slug):
    spec = drivers.SPECS.get(slug)
    return spec if spec is not None and slug in drivers.available() else None


def _form_page(form, device, spec, status=200):
    drivers_offered = [(s, label(DRIVER_LABELS, s)) for s in drivers.available()]
    html = render_template("devices/form.html", form=form, device=device, spec=spec, drivers=drivers_offered)
    # Never cached: the page may carry what a manager typed, secrets included.
    return html, status, {"Cache-Control": "no-store"}


def _submitted_options(form, places, stored):
    """Driver options plus serving keys from a validated form, or None with the errors on the form's fields."""
    serving = form.serving(*places)
    options = form.driver_options(stored)
    if options is None or form.doors.errors or form.floors.errors:
        return None
    return serving | options  # the JSON editor's serving keys, when given, win


@bp.route("/new", methods=("GET", "POST"))
@page_roles(*MANAGE_ROLES)
def add():
    """Add a device: pick the driver, then fill in the fields it declares."""
    site = db.session.get(Site, _site_id()) if _site_id() else None
    if site is None:
        abort(404)
    spec = _spec(request.args.get("driver") or request.form.get("driver") or "simulator") or _spec("simulator")
    if spec is None:
        abort(404)
    form = forms.form_for(DeviceAddForm, spec)()
    places = _places(form, site.id)
    if form.validate_on_submit():
        options = _submitted_options(form, places, {})
        if options is not None:
            device, refusal = attempt(operations.add_device, site, form.name.data, form.kind.data, spec.slug, options)
            if refusal is not None:  # the form is shown again with what was typed and why
                _flash_error(refusal)
                return _form_page(form, None, spec, 400)
            device.name_en = (form.name_en.data or "").strip() or None
            flash(_("Device added; the bridge will bring it up to date."), "ok")
            return redirect(url_for("devices.show", device_id=device.id))
    failed = request.method == "POST"
    return _form_page(form, None, spec, 400 if failed else 200)


@bp.route("/<int:device_id>/edit", methods=("GET", "POST"))
@page_roles(*MANAGE_ROLES)
def edit(device_id):
    """Change a device's name, what it serves and its options; secrets are never shown and kept when left blank."""
    device = _device(device_id)
    spec = drivers.SPECS.get(device.driver) or drivers.SIMULATOR
    form = forms.form_for(DeviceEditForm, spec)()
    places = _places(form, device.site_id)
    form.note_secrets(device.options)
    if request.method == "GET":
        form.fill(device)
    if form.validate_on_submit():
        options = _submitted_options(form, places, device.options or {})
        if options is not None:
            _changed, refusal = attempt(changes.update_device, device, name=form.name.data, options=options)
            if refusal is not None:  # the form is shown again with what was typed; the device as it is stored
                _flash_error(refusal)
                return _form_page(form, device, spec, 400)
            device.name_en = (form.name_en.data or "").strip() or None
            flash(_("Device saved."), "ok")
            return redirect(url_for("devices.show", device_id=device.id))
    return _form_page(form, device, spec, 400 if request.method == "POST" else 200)


@bp.post("/<int:device_id>/remove")
@page_roles(*MANAGE_ROLES)
def remove(device_id):
    """Wipe and remove a device."""
    device = _device(device_id)
    operations.remove_device(device)
    flash(_("The bridge is wiping the device; it disappears once every credential is deleted."), "ok")
    return redirect(url_for("devices.index"))


@bp.post("/<int:device_id>/retry")
@page_roles(*MANAGE_ROLES)
def retry(device_id):
    """Retry one failed credential (form field key) or all of them."""
    device = _device(device_id)
    key = (request.form.get("key") or "").strip()[:40] or None
    n = operations.retry_failed(device, key)
    flash(_("%(n)s failed credentials will be pushed again now.", n=n), "ok")
    return redirect(url_for("devices.show", device_id=device.id))


@bp.post("/<int:device_id>/check")
@page_roles(*MANAGE_ROLES)
def check(device_id):
    """Test the connection through the bridge; the device page shows the answer when it comes."""
    device = _device(device_id)
    cmd = operations.request_check(device, current_user)
    return redirect(url_for("devices.show", device_id=device.id, check=cmd.id, _anchor="check"))


@bp.post("/<int:device_id>/tokens")
@page_roles(*MANAGE_ROLES)
def issue_token(device_id):
    """Issue a device token (rotate: the others stop at once) and show it once, with its QR."""
    device = _device(device_id)
    form = TokenForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for e in errors:
                flash(e, "error")
        return redirect(url_for("devices.show", device_id=device.id, _anchor="tokens"))
    back_to(url_for("devices.show", device_id=device.id, _anchor="tokens"))
    plain, row = operations.issue_token(device, name=form.name.data, retire_others=form.rotate.data)
    qr_src = "data:image/png;base64," + base64.b64encode(qr.png(plain, box_size=6)).decode()
    html = render_template("devices/token.html", device=device, token=plain, row=row, qr_src=qr_src, rotated=form.rotate.data)
    # Shown once: never cached, and the token is in no URL.
    return html, 200, {"Cache-Control": "no-store"}


@bp.post("/<int:device_id>/tokens/<int:token_id>/revoke")
@page_roles(*MANAGE_ROLES)
def revoke_token(device_id, token_id):
    """Stop one device token at once."""
    device = _device(device_id)
    if not 0 < token_id < 2**31:
        abort(404)
    _row, refusal = attempt(operations.revoke_token, device, token_id)
    if refusal is not None:  # another device's token, like another site's device, is not found
        return refusal_page(refusal)
    flash(_("Token revoked: the device can no longer use it."), "ok")
    return redirect(url_for("devices.show", device_id=device.id, _anchor="tokens"))
