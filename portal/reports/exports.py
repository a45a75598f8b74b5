"""CSV exports, safe to open in a spreadsheet: text that could start a formula is neutralised."""

import csv
import io

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.core.csvcells import neutralised
from portal.core.timeutil import local_text
from portal.desk.labels import REASON_LABELS
from portal.extensions import db
from portal.feedback.forms import CATEGORY_LABELS, KIND_LABELS, PRIORITY_LABELS, STATUS_LABELS
from portal.feedback.models import Complaint

# Column headings and figure names a manager reads in the page's language (the codes stay in the API).
SECTIONS = {
    "satisfaction": _l("Satisfaction"),
    "complaints": _l("Complaints"),
    "response": _l("Response"),
    "entries": _l("Entries"),
    "complaints_by_month": _l("Complaints per month"),
    "denied_by_reason": _l("Denied by reason"),
    "entries_by_day": _l("Entries per day"),
    "entries_by_hour": _l("Entries by hour"),
    "incidents": _l("Incident response"),
    "devices": _l("Devices"),
}
METRICS = {
    "rate": _l("Satisfied share"),
    "answered": _l("Surveys answered"),
    "count": _l("Complaints filed"),
    "per_100_units": _l("Complaints per 100 units"),
    "suggestions": _l("Suggestions"),
    "median_first_response_hours": _l("Median hours to first answer"),
    "median_resolution_hours": _l("Median hours to resolution"),
    "unanswered": _l("Not yet answered"),
    "granted": _l("Entries granted"),
    "guard_share_of_entries": _l("Share of entries let in by guards"),
    "guard_share_of_walk_ins": _l("Share of walk-ins approved by guards"),
    "denied": _l("Entries denied"),
    "reported": _l("Incidents reported"),
    "acknowledge_median": _l("Median minutes to acknowledgement"),
    "acknowledge_p90": _l("90th percentile minutes to acknowledgement"),
    "on_scene_median": _l("Median minutes to on scene"),
    "on_scene_p90": _l("90th percentile minutes to on scene"),
    "resolve_median": _l("Median minutes to resolution"),
    "resolve_p90": _l("90th percentile minutes to resolution"),
    "availability": _l("Availability"),
}
KPI_HEADER = (_l("Section"), _l("Figure"), _l("Value"), _l("Previous period"), _l("Change"), _l("Target or aim"), _l("Met"))
COMPLAINT_HEADER = (
    _l("No."),
    _l("Filed"),
    _l("Kind"),
    _l("Category"),
    _l("Priority"),
    _l("Status"),
    _l("Location"),
    _l("Description"),
    _l("First answer"),
    _l("Hours to first answer"),
    _l("Resolved"),
    _l("Hours to resolution"),
    _l("Times reopened"),
)


def _label(table, key):
    value = table.get(key)
    return str(value) if value is not None else key


def safe_cell(value):
    """A value for a CSV cell; text that could be read as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return str(value)
    return neutralised(str(value))


def to_csv(header, rows):
    """CSV text with a BOM so spreadsheet programs read the UTF-8 (Chinese) correctly."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def kpi_rows(k):
    """One row per figure: section, metric, current, previous, change, target or aim, met."""
    sat, com, resp, ent = k["satisfaction"], k["complaints"], k["response"], k["entries"]
    rows = [
        ("satisfaction", "rate", sat["rate"], sat["previous_rate"], None, sat["target"], sat["met"]),
        ("satisfaction", "answered", sat["answered"], None, None, None, None),
        ("complaints", "count", com["complaints"], com["previous"], com["change"], com["aim"], com["aim_met"]),
        ("complaints", "per_100_units", com["per_100_units"], None, None, None, None),
        ("complaints", "suggestions", com["suggestions"], None, None, None, None),
        (
            "response",
            "median_first_response_hours",
            resp["median_first_response_hours"],
            resp["previous_median_first_response_hours"],
            resp["change"],
            resp["aim"],
            resp["aim_met"],
        ),
        (
            "response",
            "median_resolution_hours",
            resp["median_resolution_hours"],
            resp["previous_median_resolution_hours"],
            resp["resolution_change"],
            None,
            None,
        ),
        ("response", "unanswered", resp["unanswered"], None, None, None, None),
        ("entries", "granted", ent["granted"], None, None, None, None),
        ("entries", "guard_share_of_entries", ent["guard_share_of_entries"], None, None, None, None),
        ("entries", "guard_share_of_walk_ins", ent["guard_share_of_walk_ins"], None, None, None, None),
        ("entries", "denied", ent["denied"], None, None, None, None),
    ]
    inc, dev = k["incidents"], k["devices"]
    rows.append(("incidents", "reported", inc["reported"], inc["year_ago_reported"], None, None, None))
    for stage in ("acknowledge", "on_scene", "resolve"):
        s = inc[stage]
        rows.append(
            (
                "incidents",
                f"{stage}_median",
                s["median_minutes"],
                s["year_ago"]["median_minutes"],
                s["change"],
                inc["aim"],
                s["aim_met"],
            )
        )
        rows.append(("incidents", f"{stage}_p90", s["p90_minutes"], s["year_ago"]["p90_minutes"], s["p90_change"], None, None))
    rows.append(("devices", "availability", dev["availability"], None, None, dev["target"], dev["met"]))
    rows += [("complaints_by_month", m["month"], m["count"], None, None, None, None) for m in com["by_month"]]
    rows += [
        ("denied_by_reason", _label(REASON_LABELS, reason), n, None, None, None, None)
        for reason, n in ent["denied_by_reason"].items()
    ]
    rows += [("entries_by_day", d["date"], d["count"], None, None, None, None) for d in ent["per_day"]]
    rows += [("entries_by_hour", f"{h:02d}", n, None, None, None, None) for h, n in enumerate(ent["by_hour"])]
    return rows


def kpi_csv(k):
    """The KPI figures of a period as CSV, sections and figures named in the page's language."""
    rows = [(_label(SECTIONS, section), _label(METRICS, metric), *rest) for section, metric, *rest in kpi_rows(k)]
    return to_csv([str(h) for h in KPI_HEADER], rows)


def complaints_csv(site, period):
    """Every filing of the period, without the resident's identity."""
    q = (
        db.select(Complaint)
        .where(Complaint.site_id == site.id, Complaint.created_at >= period.start, Complaint.created_at < period.end)
        .order_by(Complaint.id)
    )

    def when(value):
        return local_text(value, site.timezone)

    def hours(a, b):
        return round((b - a).total_seconds() / 3600, 2) if a and b else None

    rows = [
        (
            c.id,
            when(c.created_at),
            _label(KIND_LABELS, c.kind),
            _label(CATEGORY_LABELS, c.category),
            _label(PRIORITY_LABELS, c.priority),
            _label(STATUS_LABELS, c.status),
            c.location,
            c.description,
            when(c.first_response_at),
            hours(c.created_at, c.first_response_at),
            when(c.resolved_at),
            hours(c.created_at, c.resolved_at),
            c.reopen_count,
        )
        for c in db.session.scalars(q)
    ]
    return to_csv([str(h) for h in COMPLAINT_HEADER], rows)
