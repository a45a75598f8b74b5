"""Watchlist pages: guards view, managers add and deactivate."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, back_to
from portal.desk.access import DESK_ROLES, MANAGE_ROLES, desk_site, site_object
from portal.desk.forms import error_messages
from portal.extensions import db
from portal.watchlist import operations
from portal.watchlist.forms import watchlist_data
from portal.watchlist.models import WatchlistEntry

bp = Blueprint("watchlist", __name__, url_prefix="/watchlist")


@bp.get("/")
@page_roles(*DESK_ROLES)
def index():
    """The list, masked; managers also get the form."""
    site = desk_site(current_user)
    rows = db.session.scalars(
        db.select(WatchlistEntry)
        .where(WatchlistEntry.site_id == site.id)
        .order_by(WatchlistEntry.active.desc(), WatchlistEntry.id.desc())
        .limit(500)
    ).all()
    return render_template(
        "watchlist/index.html", site=site, entries=rows, can_manage=current_user.role in MANAGE_ROLES, form=request.form
    )


@bp.post("/")
@page_roles(*MANAGE_ROLES)
def add():
    """Add an entry."""
    site = desk_site(current_user)
    _entry, refusal = attempt(operations.add_entry, current_user, site.id, watchlist_data())
    if refusal is not None:  # the form is shown again with what was typed; the list reads nothing the refusal wrote
        for msg in error_messages(refusal):
            flash(msg, "error")
        return index(), 400
    flash(_("Added to the watchlist."), "ok")
    return redirect(url_for("watchlist.index"))


@bp.post("/<int:entry_id>/deactivate")
@page_roles(*MANAGE_ROLES)
def deactivate(entry_id):
    """Deactivate an entry."""
    entry = site_object(WatchlistEntry, entry_id, desk_site(current_user))
    back = back_to(url_for("watchlist.index"))
    operations.deactivate(current_user, entry)
    flash(_("Taken off the watchlist."), "ok")
    return redirect(back)
