"""CSV that spreadsheets cannot be tricked into executing."""
import csv
import io

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Prefix cells a spreadsheet would read as a formula with a quote (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_DANGEROUS) else text


def to_csv(header, rows):
    """Rows (lists) as CSV text with a BOM so spreadsheet programs read the Chinese right."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return buf.getvalue()


ON_SITE_COLUMNS = ("building", "unit", "visitor", "phone", "kind", "company", "work_area", "plate", "entered_at", "gate")


def on_site_csv(rows):
    """The roll call as CSV."""
    return to_csv(ON_SITE_COLUMNS, [[r.get(c) for c in ON_SITE_COLUMNS] for r in rows])
