"""Reads on staff: who a manager may see and manage, with their last login."""

from sqlalchemy import func

from portal.accounts.models import User
from portal.accounts.queries import sees_every_site, site_condition
from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.staff.models import EnrolLink
from portal.staff.operations import MEMBER_ROLES, has_password


def members(viewer, site_id=None):
    """Guards and managers of the viewer's site (an all-sites admin: every site, or the one asked for)."""
    q = db.select(User).where(User.role.in_(MEMBER_ROLES), site_condition(viewer, User.site_id))
    if site_id is not None:
        q = q.where(User.site_id == site_id)
    return db.session.scalars(q.order_by(User.role.desc(), User.login)).all()


def visible_member(viewer, user_id):
    """A guard or manager the viewer manages, or None (another site's people do not exist for them)."""
    user = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None or user.role not in MEMBER_ROLES:
        return None
    if not sees_every_site(viewer) and (viewer.site_id is None or user.site_id != viewer.site_id):
        return None
    return user


def last_logins(user_ids):
    """user id -> when they last logged in (page or API), from the audit trail."""
    if not user_ids:
        return {}
    q = (
        db.select(AuditEntry.object_id, func.max(AuditEntry.at))
        .where(
            AuditEntry.action.in_(("auth.login", "auth.token")),
            AuditEntry.object_type == "user",
            AuditEntry.object_id.in_([str(i) for i in user_ids]),
        )
        .group_by(AuditEntry.object_id)
    )
    return {int(oid): at for oid, at in db.session.execute(q)}


def pending_links(user_ids):
    """user id -> purpose of their open enrolment link, if any."""
    if not user_ids:
        return {}
    from portal.core.timeutil import utcnow

    q = db.select(EnrolLink.user_id, EnrolLink.purpose).where(
        EnrolLink.user_id.in_(user_ids),
        EnrolLink.used_at.is_(None),
        EnrolLink.revoked_at.is_(None),
        EnrolLink.expires_at > utcnow(),
    )
    return dict(db.session.execute(q).all())


def member_json(user, last_login=None, pending=None, codes_left=0):
    """One member as the API shows them."""
    return {
        "id": user.id,
        "login": user.login,
        "name": user.display_name,
        "role": user.role,
        "site_id": user.site_id,
        "active": user.active,
        "has_password": has_password(user),
        "has_totp": user.totp_secret is not None,
        "enrolment_pending": pending,
        "recovery_codes_left": codes_left,
        "last_login_at": last_login.isoformat() if last_login else None,
    }
