"""The manager's page for importing the residents' roll: upload, see the dry run, then apply."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.sessions import page_roles
from portal.core.errors import Refused, back_to
from portal.desk.access import desk_site
from portal.sites import roll
from portal.sites.roll_import import import_roll as apply_roll

bp = Blueprint("sites", __name__, url_prefix="/team/residents")


def _labels():
    return {"create": _("New"), "update": _("Changed"), "unchanged": _("Unchanged"), "error": _("Error")}


def _fields():
    return {
        "building": _("Building"),
        "unit": _("Unit"),
        "name": _("Name"),
        "phone": _("Phone"),
        "relation": _("Relation"),
        "move_in": _("Move-in date"),
    }


def _here(site):
    """The import page again, of the same community (an all-sites admin's is named by ?site_id=)."""
    return url_for("sites.import_roll", site_id=site.id if current_user.site_id is None else None)


@bp.get("/import")
@page_roles(*MANAGER_ROLES)
def import_roll():
    """The upload form."""
    return render_template(
        "sites/import.html", site=desk_site(current_user), result=None, text="", labels=_labels(), fields=_fields()
    )


@bp.post("/import")
@page_roles(*MANAGER_ROLES)
def import_roll_post():
    """A dry run of the uploaded file; with `apply`, the import itself."""
    site = desk_site(current_user)
    back_to(_here(site))
    if (request.content_length or 0) > 2 * roll.MAX_BYTES + 64 * 1024:  # the file, or its text sent back for apply
        raise Refused("too_large", "The roll is too large: at most 2 MB and 20,000 rows.", kind="too_large")
    f = request.files.get("file")
    if f is not None and f.filename:
        text = roll.decode(f.read(roll.MAX_BYTES + 1))
    else:
        text = roll.decode((request.form.get("roll") or "").encode("utf-8"))
    if not text.strip():
        raise Refused("required", "Choose a CSV file.")
    create_places = bool(request.form.get("create_places"))
    plan = roll.plan(site, text, create_places=create_places)
    if request.form.get("apply"):
        result = apply_roll(plan, skip_errors=bool(request.form.get("skip_errors")))
        if result["applied"]:
            flash(
                _(
                    "Roll imported: %(created)s new, %(updated)s changed, %(unchanged)s unchanged, %(skipped)s rows skipped.",
                    created=result["created"],
                    updated=result["updated"],
                    unchanged=result["unchanged"],
                    skipped=result["rows_in_error"],
                ),
                "ok",
            )
            return redirect(_here(site))
        flash(_("Nothing was imported: some rows are in error. Fix them, or choose to skip them."), "error")
    result = apply_roll(plan, dry_run=True)
    return render_template(
        "sites/import.html",
        site=site,
        result=result,
        text=text,
        create_places=create_places,
        labels=_labels(),
        fields=_fields(),
    )
