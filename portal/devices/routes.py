"""Device pages: the desk sees push status; managers add, edit, remove and retry."""

import json
import re
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES
from portal.accounts.sessions import page_roles
from portal.core.errors import ApiError
from portal.core.timeutil import local_text
from portal.desk.forms import FIELD_LABELS, error_messages
from portal.desk.labels import DRIVER_LABELS, label
from portal.devices import changes, drivers, operations, queries
from portal.devices.api import CRED_STATUSES, event_health
from portal.devices.forms import KIND_LABELS, DeviceAddForm, DeviceEditForm
from portal.devices.models import Device
from portal.extensions import db
from portal.sites.models import Gate, Site

bp = Blueprint("devices", __name__, url_prefix="/devices")
VIEW_ROLES = STAFF_ROLES
MANAGE_ROLES = MANAGER_ROLES
DEVICE_FIELDS = FIELD_LABELS | {"name": _l("Device name")}


def _site_id():
    """The user's site; administrators of every site may pick one with ?site_id=."""
    return current_user.site_id if current_user.site_id is not None else request.args.get("site_id", type=int)


def _device(device_id):
    device = db.session.get(Device, device_id) if 0 < device_id < 2**31 else None
    foreign = current_user.site_id is not None and device is not None and device.site_id != current_user.site_id
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
        can_manage=current_user.role in MANAGE_ROLES,
    )


@bp.route("/new", methods=("GET", "POST"))
@page_roles(*MANAGE_ROLES)
def add():
    """Add a device."""
    form = DeviceAddForm()
    form.set_drivers(drivers.available())
    form.driver.choices = [(c.value, label(DRIVER_LABELS, c.value)) for c in form.driver.choices]
    site = db.session.get(Site, _site_id()) if _site_id() else None
    if site is None:
        abort(404)
    if form.validate_on_submit():
        try:
            device = operations.add_device(site, form.name.data, form.kind.data, form.driver.data, form.options.parsed)
            device.name_en = (form.name_en.data or "").strip() or None
        except ApiError as exc:
            _flash_error(exc)
            return render_template("devices/form.html", form=form, device=None), 400
        flash(_("Device added; the bridge will bring it up to date."), "ok")
        return redirect(url_for("devices.show", device_id=device.id))
    if request.method == "GET":
        form.options.data = "{}"
    return render_template("devices/form.html", form=form, device=None), 400 if form.errors else 200


@bp.route("/<int:device_id>/edit", methods=("GET", "POST"))
@page_roles(*MANAGE_ROLES)
def edit(device_id):
    """Rename a device or change its options; stored secrets show as "••• set" and are kept unless replaced."""
    device = _device(device_id)
    form = DeviceEditForm()
    if form.validate_on_submit():
        try:
            changes.update_device(device, name=form.name.data, options=form.options.parsed)
            device.name_en = (form.name_en.data or "").strip() or None
        except ApiError as exc:
            _flash_error(exc)
            return render_template("devices/form.html", form=form, device=device), 400
        flash(_("Device saved."), "ok")
        return redirect(url_for("devices.show", device_id=device.id))
    if request.method == "GET":
        form.name.data = device.name
        form.name_en.data = device.name_en
        form.options.data = json.dumps(changes.editable_options(device), ensure_ascii=False, indent=2)
    return render_template("devices/form.html", form=form, device=device), 400 if form.errors else 200


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
