"""Reports in the JSON API."""

from flask import jsonify, request

from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.reports import periods
from portal.reports.access import REPORT_ROLES, site_for
from portal.reports.queries import kpi


@api_route(
    "/reports/kpi",
    summary="KPIs for a period (dates in the site's time zone) against the previous period",
    tag="reports",
    params=[
        {
            "name": "from",
            "in": "query",
            "schema": {"type": "string", "format": "date"},
            "description": "First day, YYYY-MM-DD (site time zone)",
        },
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Last day, included"},
        {"name": "site", "in": "query", "schema": {"type": "string"}, "description": "Site slug (all-sites admins)"},
    ],
    responses={
        "200": {"description": "satisfaction, complaints, response, entries; ratios are null when there is no data"},
        "403": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
    },
)
@api_roles(*REPORT_ROLES)
def report_kpi():
    """The KPI document; null means n/a (nothing to divide by)."""
    site = site_for(api_user(), request.args.get("site"))
    period = periods.parse(request.args.get("from"), request.args.get("to"), site.timezone)
    return jsonify(kpi(site, period))
