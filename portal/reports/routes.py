"""Report pages for managers: the dashboard, CSV exports and the quarterly report."""

from flask import Blueprint, Response, abort, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.sessions import page_roles
from portal.audit.operations import record
from portal.core.errors import attempt, refusal_page
from portal.desk.labels import REASON_LABELS
from portal.reports import charts, exports, periods
from portal.reports.access import REPORT_ROLES, site_for
from portal.reports.queries import kpi

bp = Blueprint("reports", __name__, url_prefix="/team/reports")


def _shown(call, *args):
    """What a report reads its request with, or the error page saying why the request was refused."""
    result, refusal = attempt(call, *args)
    if refusal is not None:
        abort(make_response(refusal_page(refusal)))
    return result


def _site():
    return _shown(site_for, current_user, request.args.get("site"))


def _period(site):
    return _shown(periods.parse, request.args.get("from"), request.args.get("to"), site.timezone)


def chart_set(k):
    """The SVG charts of a KPI document."""
    ent, com = k["entries"], k["complaints"]
    days = ent["per_day"]
    every = max(1, len(days) // 10)
    return {
        "satisfaction": charts.gauge(k["satisfaction"]["rate"], k["satisfaction"]["target"], _("Satisfaction")),
        "complaints": charts.bars([(m["month"], m["count"]) for m in com["by_month"]], _("Complaints per month")),
        "per_day": charts.bars([(d["date"][5:], d["count"]) for d in days], _("Entries per day"), label_every=every),
        "by_hour": charts.bars(
            [(f"{h:02d}", n) for h, n in enumerate(ent["by_hour"])],
            _("Entries by hour"),
            label_every=2,
            highlight={f"{h:02d}" for h in ent["peak_hours"]},
        ),
        "denied": charts.hbars(
            [(str(REASON_LABELS.get(r, r)), n) for r, n in ent["denied_by_reason"].items()], _("Denied by reason")
        ),
    }


@bp.get("/")
@page_roles(*REPORT_ROLES)
def dashboard():
    """KPIs for a period (default: the last 30 days) against the period before."""
    site = _site()
    period = _period(site)
    k = kpi(site, period)
    return render_template(
        "reports/dashboard.html",
        k=k,
        charts=chart_set(k),
        site=site,
        period=period,
        args={"from": period.first.isoformat(), "to": period.last.isoformat()},
    )


def _csv(text, name):
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"},
    )


def _export(what, build):
    """Audit an export of the chosen period, then send the CSV."""
    site = _site()
    period = _period(site)
    record(
        "report.export", "site", site.id, site_id=site.id, what=what, first=period.first.isoformat(), last=period.last.isoformat()
    )
    return _csv(build(site, period), f"{what}-{site.slug}-{period.first}-{period.last}.csv")


@bp.get("/kpi.csv")
@page_roles(*REPORT_ROLES)
def kpi_csv():
    """The KPI figures as CSV."""
    return _export("kpi", lambda site, period: exports.kpi_csv(kpi(site, period)))


@bp.get("/complaints.csv")
@page_roles(*REPORT_ROLES)
def complaints_csv():
    """Every filing of the period as CSV, without residents' identities."""
    return _export("complaints", exports.complaints_csv)


@bp.get("/quarterly")
@page_roles(*REPORT_ROLES)
def quarterly():
    """The printable quarterly report, compared with the quarter before."""
    site = _site()
    year, q = request.args.get("year", type=int), request.args.get("q", type=int)
    if year is None and q is None:  # no query: the quarter we are in
        year, q = periods.current_quarter(site.timezone)
    period = _shown(periods.quarter, year, q, site.timezone)
    q = (period.first.month - 1) // 3 + 1
    # The same quarter a year earlier: the seed's aims are yearly changes, and seasons differ between quarters.
    k = kpi(site, period, previous=periods.quarter(period.first.year - 1, q, site.timezone))
    return render_template(
        "reports/quarterly.html",
        k=k,
        charts=chart_set(k),
        site=site,
        period=period,
        year=period.first.year,
        q=q,
        prev=(period.first.year - 1, q),
    )
