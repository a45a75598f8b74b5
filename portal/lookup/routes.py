"""The desk's look-up page and today's expected visitors."""

from flask import Blueprint, render_template, request
from flask_login import current_user

from portal.accounts.models import STAFF_ROLES
from portal.accounts.sessions import page_roles
from portal.desk.access import desk_site
from portal.lookup.queries import audited_expected, audited_search, shown_day
from portal.lookup.serialize import expected_json, search_json

bp = Blueprint("lookup", __name__)


@bp.get("/desk/search")
@page_roles(*STAFF_ROLES)
def search_page():
    """One search box; the answer is the API's, rendered."""
    site = desk_site(current_user)
    q = request.args.get("q") or ""
    result = search_json(audited_search(current_user, site, q), current_user, site.timezone) if q else None
    return render_template("lookup/search.html", site=site, q=q, result=result)


@bp.get("/desk/expected")
@page_roles(*STAFF_ROLES)
def expected_page():
    """Expected visitors of a day, by hour."""
    site = desk_site(current_user)
    day = shown_day(site, request.args.get("date"))
    hours = expected_json(audited_expected(current_user, site, day), current_user, site.timezone)
    return render_template("lookup/expected.html", site=site, day=day, hours=hours)
