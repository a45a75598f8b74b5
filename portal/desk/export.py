"""The roll call as CSV that spreadsheets cannot be tricked into executing."""

from flask_babel import lazy_gettext as _l

from portal.desk.labels import PASS_KIND_LABELS, label
from portal.reports.exports import safe_cell, to_csv  # noqa: F401 (safe_cell: one CSV rule for the portal)

ON_SITE_COLUMNS = ("building", "unit", "visitor", "phone", "kind", "company", "work_area", "plate", "entered_at", "gate")
ON_SITE_HEADINGS = {
    "building": _l("Building"),
    "unit": _l("Unit"),
    "visitor": _l("Visitor"),
    "phone": _l("Phone"),
    "kind": _l("Kind"),
    "company": _l("Company"),
    "work_area": _l("Work area"),
    "plate": _l("Plate"),
    "entered_at": _l("Entered"),
    "gate": _l("Gate"),
}


def on_site_csv(rows, labelled=False):
    """The roll call as CSV: codes for the API, headings and pass kinds in the page's language for people."""
    if not labelled:
        return to_csv(ON_SITE_COLUMNS, [[r.get(c) for c in ON_SITE_COLUMNS] for r in rows])
    header = [str(ON_SITE_HEADINGS[c]) for c in ON_SITE_COLUMNS]
    shown = [[label(PASS_KIND_LABELS, r.get(c)) if c == "kind" else r.get(c) for c in ON_SITE_COLUMNS] for r in rows]
    return to_csv(header, shown)
