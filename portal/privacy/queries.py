"""Retention periods: the defaults per kind of data, a site's own, and the SQL conditions the purges use."""

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, true

from portal.extensions import db
from portal.privacy.models import SiteRetention

# kind -> (label, smallest, largest days). Defaults come from default_days(); why each is what it is: README.
KINDS = {
    # Stored as the site's "retention_days" setting (portal.sites.settings), which the settings page edits too.
    "visits": (_l("Visit records (visitor name, phone, ID number, plate, SMS)"), 1, 730),
    # Face data is sensitive personal information: templates go when the pass ends whatever is set here; this is
    # how long consent records and terminal-erasure receipts stay, never longer than a quarter.
    "faces": (_l("Face consent and erasure records"), 1, 90),
    "patrol_photos": (_l("Hazard photos from patrols (after the hazard is closed)"), 1, 1095),
}
DEFAULT_PATROL_PHOTO_DAYS = 90


def default_days(kind):
    """The period every site has unless it sets its own (RETENTION_DAYS for visits and faces)."""
    if kind == "visits":
        from portal.sites import settings

        return settings.default("retention_days")
    if kind == "patrol_photos":
        return int(current_app.config.get("PATROL_PHOTO_RETENTION_DAYS", DEFAULT_PATROL_PHOTO_DAYS))
    return int(current_app.config.get("RETENTION_DAYS", 30))


def _visit_days():
    """site id -> days for the sites whose "retention_days" setting is not the default (one read of the sites)."""
    from portal.sites import settings
    from portal.sites.models import Site

    default = settings.default("retention_days")
    own = {}
    for site in db.session.scalars(db.select(Site)):
        days = settings.value(site, "retention_days")
        if days != default:
            own[site.id] = days
    return own


def overrides(kind):
    """site id -> days for the sites that set their own period of this kind."""
    if kind == "visits":
        return _visit_days()
    rows = db.session.execute(db.select(SiteRetention.site_id, SiteRetention.days).where(SiteRetention.kind == kind))
    return dict(rows.all())


def for_site(site_id):
    """kind -> {"days", "default", "own", "min", "max"} for one site."""
    own = dict(
        db.session.execute(db.select(SiteRetention.kind, SiteRetention.days).where(SiteRetention.site_id == site_id)).all()
    )
    visits = _site_setting(site_id)
    if visits is not None:
        own["visits"] = visits
    out = {}
    for kind, (_label, low, high) in KINDS.items():
        default = default_days(kind)
        out[kind] = {"days": own.get(kind, default), "default": default, "own": kind in own, "min": low, "max": high}
    return out


def _site_setting(site_id):
    """The site's own "retention_days" setting, or None when it never set one."""
    from portal.sites import settings
    from portal.sites.models import Site

    site = db.session.get(Site, site_id)
    if site is None or (site.settings or {}).get("retention_days") is None:
        return None
    return settings.value(site, "retention_days")


def cutoffs(kind, now):
    """[(sites(column) -> condition, cutoff, days)]: one per distinct period, every site in exactly one of them."""
    own = overrides(kind)
    by_days = {}
    for site_id, days in own.items():
        by_days.setdefault(days, []).append(site_id)
    out = [(_among(ids), now - timedelta(days=days), days) for days, ids in sorted(by_days.items())]
    default = default_days(kind)
    out.append((_others(list(own)), now - timedelta(days=default), default))
    return out


def _among(ids):
    return lambda column: column.in_(ids)


def _others(ids):
    # Rows with no site (an event from an unknown device) follow the default period.
    return lambda column: or_(column.not_in(ids), column.is_(None)) if ids else true()
