"""Writes on accounts."""

import pyotp

from portal.accounts.models import ROLES, User
from portal.accounts.passwords import check_new_password, hash_password
from portal.accounts.sessions import end_all_sessions
from portal.audit.operations import record
from portal.extensions import db


def create_user(login, password, role, display_name, site=None, phone=None, locale="zh"):
    """A user; staff get a TOTP secret for their second factor."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    login = login.strip().lower()
    check_new_password(password, login)
    user = User(
        login=login,
        display_name=display_name,
        role=role,
        site_id=site.id if site else None,
        password_hash=hash_password(password),
        phone=phone,
        locale=locale,
    )
    if role != "resident":
        user.totp_secret = pyotp.random_base32()
    db.session.add(user)
    db.session.flush()
    record("user.create", "user", user.id, site_id=user.site_id, role=role)
    return user


def disable(user):
    """Disable an account; its sessions and tokens end at once."""
    user.active = False
    end_all_sessions(user)
    record("user.disable", "user", user.id, site_id=user.site_id)
