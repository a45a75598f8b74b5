"""The desk's emergency page: start, each device's state, the roll call, end; the assembly point for managers."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.sessions import page_roles
from portal.core.errors import Refused
from portal.desk.access import DESK_ROLES, desk_site
from portal.desk.forms import form_text
from portal.emergency import operations, queries
from portal.emergency.models import RollCallEntry
from portal.emergency.serialize import emergency_json
from portal.extensions import db

bp = Blueprint("emergency", __name__, url_prefix="/desk/emergency")
KIND_LABELS = {"fire": _l("Fire"), "evacuation": _l("Evacuation"), "drill": _l("Drill")}
STATE_LABELS = {
    "pending": _l("Waiting for the device"),
    "released": _l("Released"),
    "restored": _l("Restored"),
    "failed": _l("Failed"),
}


@bp.get("/")
@page_roles(*DESK_ROLES)
def page():
    """The running emergency per device and the roll call, or the button to start one, and past records."""
    site = desk_site(current_user)
    running = queries.running(site.id)
    state = emergency_json(running, with_people=True) if running else None
    return render_template(
        "emergency/page.html",
        site=site,
        state=state,
        history=[emergency_json(e) for e in queries.history(site.id)],
        kind_labels=KIND_LABELS,
        state_labels=STATE_LABELS,
        assembly_point=operations.assembly_point(site, "zh"),
        assembly_point_en=(site.settings or {}).get("assembly_point_en"),
    )


@bp.post("/start")
@page_roles(*DESK_ROLES)
def start():
    """Start an emergency or a drill."""
    operations.start(desk_site(current_user), current_user, form_text("kind"), form_text("reason"))
    flash(_("Emergency mode started."), "ok")
    return redirect(url_for("emergency.page"))


@bp.post("/end")
@page_roles(*DESK_ROLES)
def end():
    """End it and restore the devices."""
    operations.end(desk_site(current_user), current_user)
    flash(_("Emergency mode ended; devices are being restored."), "ok")
    return redirect(url_for("emergency.page"))


@bp.post("/roll-call/<int:entry_id>")
@page_roles(*DESK_ROLES)
def account(entry_id):
    """Mark a person accounted for."""
    site = desk_site(current_user)
    running = queries.running(site.id)
    entry = db.session.get(RollCallEntry, entry_id)
    if running is None or entry is None or entry.emergency_id != running.id:
        raise Refused("not_found", "Not found.", kind="not_found")
    operations.account(entry, running, current_user)
    return redirect(url_for("emergency.page"))


@bp.post("/assembly-point")
@page_roles(*MANAGER_ROLES)
def assembly_point():
    """Managers set where visitors are sent."""
    operations.set_assembly_point(
        desk_site(current_user), current_user, form_text("assembly_point"), form_text("assembly_point_en")
    )
    flash(_("Assembly point saved."), "ok")
    return redirect(url_for("emergency.page"))
