"""The desk's look-up in the JSON API: search across visitors, passes, plates, units and hosts; expected visitors."""

from flask import jsonify, request

from portal.accounts.models import STAFF_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.desk.access import desk_site
from portal.lookup import queries
from portal.lookup.serialize import expected_json, search_json


@api_route(
    "/desk/search",
    summary="Find visitors, passes, plates, units and hosts (or a phone's last four digits); masked, audited",
    tag="desk",
    params=[{"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 64}}],
)
@api_roles(*STAFF_ROLES)
def desk_search():
    """One search box for the desk."""
    user = api_user()
    site = desk_site(user)
    found = queries.audited_search(user, site, request.args.get("q"))
    return jsonify({"query": queries.clean_query(request.args.get("q")), **search_json(found, user, site.timezone)})


@api_route(
    "/desk/expected",
    summary="Visitors expected on a day (default today), by local hour, with their host",
    tag="desk",
    params=[{"name": "date", "in": "query", "schema": {"type": "string", "format": "date"}}],
)
@api_roles(*STAFF_ROLES)
def desk_expected():
    """Today's expected visitors by hour."""
    user = api_user()
    site = desk_site(user)
    day = queries.requested_day(site, request.args.get("date"))
    hours = queries.audited_expected(user, site, day)
    return jsonify({"date": day.isoformat(), "hours": expected_json(hours, user, site.timezone)})
