"""Words for a permit's status, in the page's language."""

from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    "pending": _l("Waiting for approval"),
    "approved": _l("Approved"),
    "refused": _l("Refused"),
    "suspended": _l("Suspended"),
}
