"""Per-site retention: the SQL condition that picks rows older than their own site's retention days."""

from datetime import timedelta

from sqlalchemy import and_, or_

from portal.extensions import db
from portal.sites import settings
from portal.sites.models import Site


def per_site_cutoff(site_column, older_than, now):
    """older_than(cutoff) for rows of sites on the default, or with each site's own cutoff where it set one."""
    default_days = settings.default("retention_days")
    own = {}
    for site in db.session.scalars(db.select(Site)):
        days = settings.value(site, "retention_days")
        if days != default_days:
            own[site.id] = days
    default = older_than(now - timedelta(days=default_days))
    if not own:
        return default
    parts = [and_(site_column == site_id, older_than(now - timedelta(days=days))) for site_id, days in own.items()]
    on_default = or_(site_column.is_(None), site_column.not_in(list(own)))  # NULL NOT IN (…) is not true
    return or_(and_(on_default, default), *parts)
