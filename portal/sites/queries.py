"""Reading sites, and residents and units within a manager's reach."""

from portal.accounts.models import Residency, User
from portal.accounts.queries import sees_every_site
from portal.extensions import db
from portal.sites.models import Building, Site, Unit


def site_by_slug(slug):
    """The site with this slug, or None."""
    return db.session.scalar(db.select(Site).where(Site.slug == slug))


def unit_in_site(unit_id, site_id):
    """A unit if it belongs to the site."""
    if not isinstance(unit_id, int) or isinstance(unit_id, bool) or not 0 < unit_id < 2**31:
        return None
    return db.session.scalar(db.select(Unit).join(Building).where(Unit.id == unit_id, Building.site_id == site_id))


def residencies_of_site(site_id, current_only=True):
    """Residencies of a site's units, newest first."""
    from portal.core.timeutil import utcnow

    q = (
        db.select(Residency)
        .join(Unit, Unit.id == Residency.unit_id)
        .join(Building)
        .where(Building.site_id == site_id)
        .order_by(Residency.id.desc())
    )
    if current_only:
        q = q.where((Residency.ends_at.is_(None)) | (Residency.ends_at > utcnow()))
    return db.session.scalars(q).all()


def residency_in_site(residency_id, site_id):
    """A residency if its unit belongs to the site."""
    return db.session.scalar(
        db.select(Residency)
        .join(Unit, Unit.id == Residency.unit_id)
        .join(Building)
        .where(Residency.id == residency_id, Building.site_id == site_id)
    )


def user_by_login(login):
    """A user by login."""
    return db.session.scalar(db.select(User).where(User.login == (login or "").strip().lower()))


def lives_in_site(user_id, site_id):
    """True when the user has (or had) a residency in one of the site's units."""
    return (
        db.session.scalar(
            db.select(Residency.id)
            .join(Unit, Unit.id == Residency.unit_id)
            .join(Building)
            .where(Residency.user_id == user_id, Building.site_id == site_id)
            .limit(1)
        )
        is not None
    )


def managed_site(user, slug):
    """The community with this slug if the user runs it (an all-sites admin runs every one), else None."""
    site = site_by_slug((slug or "")[:40])
    if site is None:
        return None
    if sees_every_site(user):
        return site
    return site if user.site_id == site.id else None
