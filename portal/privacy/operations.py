"""Setting a community's retention periods (audited); the purges read them through portal.privacy.queries."""

from portal.audit.operations import record
from portal.core.errors import ValidationFailed
from portal.extensions import db
from portal.privacy.models import SiteRetention
from portal.privacy.queries import KINDS, default_days, for_site
from portal.sites.operations import change_settings


def set_retention(user, site, values):
    """values: kind -> days, or None to go back to the default; every kind checked before anything is stored."""
    if not isinstance(values, dict) or not values:
        raise ValidationFailed({"_": ("invalid", "Give days for visits, faces or patrol_photos.")})
    errors, clean = {}, {}
    for kind, days in values.items():
        if kind not in KINDS:
            errors[str(kind)[:40]] = ("unknown_kind", "Give days for visits, faces or patrol_photos.")
            continue
        _label, low, high = KINDS[kind]
        if days is None:
            clean[kind] = None
        elif isinstance(days, bool) or not isinstance(days, int) or not low <= days <= high:
            errors[kind] = ("out_of_range", "Between %(low)s and %(high)s days.", {"low": low, "high": high})
        else:
            clean[kind] = days
    if errors:
        raise ValidationFailed(errors)
    before = for_site(site.id)
    if "visits" in clean:
        # One place for a community's visit retention: the settings page's "retention days" (portal.sites.settings).
        change_settings(site, {"retention_days": clean.pop("visits")})
    for kind, days in clean.items():
        row = db.session.get(SiteRetention, (site.id, kind))
        if days is None or (days == default_days(kind) and row is None):
            if row is not None:
                db.session.delete(row)
            continue
        if row is None:
            row = SiteRetention(site_id=site.id, kind=kind, days=days)
            db.session.add(row)
        row.days, row.updated_by_id = days, user.id
    db.session.flush()
    after = for_site(site.id)
    record(
        "privacy.retention",
        "site",
        site.id,
        site_id=site.id,
        before={k: v["days"] for k, v in before.items()},
        after={k: v["days"] for k, v in after.items()},
    )
    return after
