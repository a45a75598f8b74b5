"""The managers' records page: this community's retention periods and the visit search for investigations."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, back_to, field_messages, refusal_status
from portal.core.validators import report_window
from portal.desk.access import desk_site
from portal.privacy import investigations, operations, queries

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


@bp.get("/")
@page_roles(*MANAGER_ROLES)
def index():
    """Retention periods with their form; the visit search and its results when asked."""
    site = desk_site(current_user)
    results, searched, error, status = [], False, None, 200
    if request.args.get("search"):
        searched = True
        window, refusal = attempt(report_window, request.args)
        if refusal is not None:  # the page says why the period was refused, and finds nobody
            error, status = "; ".join(field_messages(refusal).values()), refusal_status(refusal)
        else:
            start, end = window
            name = (request.args.get("name") or "").strip()[:64] or None
            unit = (request.args.get("unit") or "").strip()[:40] or None
            results = investigations.visits(current_user, site, start, end, name=name, unit=unit)
    html = render_template(
        "privacy/index.html",
        site=site,
        periods=queries.for_site(site.id),
        kinds=queries.KINDS,
        results=results,
        searched=searched,
        error=error,
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.post("/retention")
@page_roles(*MANAGER_ROLES)
def retention():
    """Save the periods; an empty box goes back to the default."""
    back_to(url_for("privacy.index"))
    values = {}
    for kind in queries.KINDS:
        raw = (request.form.get(kind) or "").strip()
        values[kind] = int(raw) if raw.isdigit() and len(raw) < 6 else (None if not raw else -1)
    operations.set_retention(current_user, desk_site(current_user), values)
    flash(_("Retention periods saved."), "ok")
    return redirect(url_for("privacy.index"))
