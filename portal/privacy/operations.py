"""Setting a community's retention periods (audited), and the purge of desk records and events that have no pass."""

from flask import current_app

from portal.audit.operations import record
from portal.core.errors import ValidationFailed
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.passes.operations import scrub_events_without_pass
from portal.privacy.models import SiteRetention
from portal.privacy.queries import KINDS, default_days, for_site
from portal.sites.operations import change_settings
from portal.sites.retention import per_site_cutoff
from portal.walkins.operations import purge_desk_records


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


def purge_without_pass(now=None, batch=500):
    """Walk-ins, item movements and access events with no pass, older than their site's retention days; how many rows."""
    now = now or utcnow()

    def older(site_column, time_column):
        return per_site_cutoff(site_column, lambda cutoff: time_column < cutoff, now)

    done = purge_desk_records(older, batch) + scrub_events_without_pass(older, batch)
    if done:
        record("desk.purge", "walk_in", None, rows=done, retention_days=current_app.config["RETENTION_DAYS"])
    return done
