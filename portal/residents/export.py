"""The residents' roll as CSV, in the import's own columns, so an unmasked export re-imports unchanged."""

import phonenumbers

from portal.audit.operations import record
from portal.core.validators import mask_phone
from portal.reports.exports import to_csv
from portal.residents import queries
from portal.residents.operations import is_activated, may_export
from portal.sites.roll import COLUMNS

HEADER = (*COLUMNS, "activated")  # column names are the import's codes, in every language


def _phone(e164):
    """Mainland mobiles as people type them (13912340001); others in E.164."""
    if not e164:
        return ""
    try:
        num = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    if num.country_code == 86:
        return phonenumbers.national_significant_number(num)
    return e164


def roll_csv(user, site):
    """(CSV text, masked?) of the site's current roll; phones masked unless the user has the export right; audited."""
    masked = not may_export(user)
    rows = [
        (
            code,
            number,
            person.display_name,
            mask_phone(person.phone) if masked else _phone(person.phone),
            relation,
            day.isoformat(),
            "yes" if is_activated(person) else "no",
        )
        for code, number, person, relation, day in queries.roll_rows(site)
    ]
    record("pii.export", "roll", site.id, site_id=site.id, count=len(rows), masked=masked)
    return to_csv(HEADER, rows), masked
