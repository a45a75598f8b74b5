"""The desk's 1:N search: one photo against the enrolled faces of the caller's site, audited."""

from portal.accounts.queries import site_scope
from portal.audit.operations import record, record_pii_view
from portal.core.errors import Refused
from portal.core.timeutil import local
from portal.extensions import db
from portal.faces import operations, queries
from portal.faces.vectors import THRESHOLD
from portal.passes.models import Pass
from portal.sites.models import Site

LIMIT = 5


def site_for(user, site_id=None):
    """The site a staff member searches: their own; an all-sites admin names one."""
    if user.site_id is not None:
        if site_id not in (None, user.site_id):
            raise Refused("not_found", "No such site.", kind="not_found")
        return user.site_id
    site_scope(user)  # a guard or manager with no community searches none (404)
    if site_id is None or db.session.get(Site, site_id) is None:
        raise Refused("not_found", "No such site.", kind="not_found")
    return site_id


def run(user, data, site_id=None):
    """Matches as dicts (pass, distance, visitor, validity), nearest first; every shown pass is audited."""
    site_id = site_for(user, site_id)
    encoding = operations.read_encoding(data)
    hits = queries.search(site_id, encoding, limit=LIMIT, threshold=THRESHOLD)
    results = []
    for pass_id, distance in hits:
        p = db.session.get(Pass, pass_id)
        if p is None or p.site_id != site_id:
            continue
        record_pii_view(user, p, ["visitor_name", "face_match"])
        results.append(
            {
                "pass_id": p.id,
                "distance": round(distance, 4),
                "visitor_name": p.visitor_name,
                "unit": p.unit.label,
                "status": p.state(),
                "valid_from": local(p.valid_from, p.timezone).isoformat(),
                "valid_until": local(p.valid_until, p.timezone).isoformat(),
            }
        )
    record(
        "face.search",
        "site",
        site_id,
        site_id=site_id,
        matches=[r["pass_id"] for r in results],
        enrolled=len(queries.site_index(site_id)),
    )
    return results
