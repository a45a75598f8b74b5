"""Which site a report is about: the manager's own; an all-sites admin names one."""

from portal.accounts.models import MANAGER_ROLES
from portal.accounts.queries import site_scope
from portal.core.errors import Refused
from portal.extensions import db
from portal.sites.models import Site

REPORT_ROLES = MANAGER_ROLES


def site_for(user, slug=None):
    """The site the user may report on, or a 404 (never another community's figures)."""
    if site_scope(user) is not None:
        site = db.session.get(Site, user.site_id)
        if slug and site.slug != slug:
            raise Refused("not_found", "No such site.", kind="not_found")
        return site
    q = db.select(Site).order_by(Site.id)
    site = db.session.scalar(q.where(Site.slug == slug)) if slug else db.session.scalar(q)
    if site is None:
        raise Refused("not_found", "No such site.", kind="not_found")
    return site
