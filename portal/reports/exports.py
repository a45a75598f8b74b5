"""CSV exports, safe to open in a spreadsheet: text that could start a formula is neutralised."""

import csv
import io

from portal.core.timeutil import local
from portal.extensions import db
from portal.feedback.models import Complaint

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Google Sheets (OWASP CSV injection).
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value):
    """A value for a CSV cell; text that could be read as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text.lstrip(" ").startswith(_TRIGGERS):
        return "'" + text
    return text


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
    rows += [("complaints_by_month", m["month"], m["count"], None, None, None, None) for m in com["by_month"]]
    rows += [("denied_by_reason", reason, n, None, None, None, None) for reason, n in ent["denied_by_reason"].items()]
    rows += [("entries_by_day", d["date"], d["count"], None, None, None, None) for d in ent["per_day"]]
    rows += [("entries_by_hour", f"{h:02d}", n, None, None, None, None) for h, n in enumerate(ent["by_hour"])]
    return rows


def kpi_csv(k):
    """The KPI figures of a period as CSV."""
    header = ("section", "metric", "value", "previous", "change", "target_or_aim", "met")
    return to_csv(header, kpi_rows(k))


def complaints_csv(site, period):
    """Every filing of the period, without the resident's identity."""
    q = (
        db.select(Complaint)
        .where(Complaint.site_id == site.id, Complaint.created_at >= period.start, Complaint.created_at < period.end)
        .order_by(Complaint.id)
    )

    def when(value):
        return local(value, site.timezone).strftime("%Y-%m-%d %H:%M") if value else None

    def hours(a, b):
        return round((b - a).total_seconds() / 3600, 2) if a and b else None

    rows = [
        (
            c.id,
            when(c.created_at),
            c.kind,
            c.category,
            c.priority,
            c.status,
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
    header = (
        "id",
        "created",
        "kind",
        "category",
        "priority",
        "status",
        "location",
        "description",
        "first_response",
        "hours_to_first_response",
        "resolved",
        "hours_to_resolution",
        "reopened",
    )
    return to_csv(header, rows)
