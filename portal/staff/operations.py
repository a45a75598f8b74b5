"""Writes on staff: add a member, issue enrolment links, enrol, disable, enable, reset the second factor."""

import re
from datetime import timedelta

import pyotp
from flask import current_app, url_for
from flask_babel import force_locale, gettext
from sqlalchemy import func, update

from portal.accounts import operations as accounts
from portal.accounts.models import User
from portal.accounts.passwords import check_new_password, hash_password
from portal.accounts.recovery import forget_codes, replace_codes
from portal.accounts.sessions import end_all_sessions
from portal.audit.operations import record
from portal.core import validators
from portal.core.crypto import new_token, token_hash
from portal.core.errors import Refused, ValidationFailed
from portal.core.i18n import local_name
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.notify.operations import queue_sms
from portal.staff.models import EnrolLink

MEMBER_ROLES = ("guard", "manager")
LINK_PREFIX = "vpe"
LINK_HOURS = 72
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# Not an argon2 hash: verify_password answers False for it, so nobody can log in before enrolling.
NO_PASSWORD = "!enrol"  # noqa: S105  (a marker, not a password)


def has_password(user):
    """Whether the account has a usable password."""
    return not user.password_hash.startswith("!")


def _clean(data):
    errors = {}
    login = data.get("login")
    login = login.strip().lower() if isinstance(login, str) else ""
    if not LOGIN_RE.match(login):
        errors["login"] = ("invalid_login", "Use 2 to 64 letters, digits, dots, dashes or underscores.")
    role = data.get("role")
    if role not in MEMBER_ROLES:
        errors["role"] = ("invalid_role", "Choose guard or manager.")
    name = validators.collect(errors, "name", validators.person_name, data.get("name"))
    phone = validators.collect(errors, "phone", validators.phone, data.get("phone") or None)
    if errors:
        raise ValidationFailed(errors)
    if db.session.scalar(db.select(func.count()).select_from(User).where(User.login == login)):
        raise Refused(
            "login_taken", "This login is taken.", fields={"login": ("login_taken", "This login is taken.")}, kind="conflict"
        )
    return login, role, name, phone


def add_member(actor, site, data):
    """A guard or manager with no usable password yet; returns (user, plain enrolment token)."""
    login, role, name, phone = _clean(data)
    user = User(login=login, display_name=name, role=role, site_id=site.id, password_hash=NO_PASSWORD, phone=phone)
    db.session.add(user)
    db.session.flush()
    record("staff.create", "user", user.id, site_id=site.id, role=role)
    plain = issue_link(actor, user, "enrol")
    if phone:
        _send_link(user, site, plain)
    return user, plain


def enrol_url(plain):
    """The absolute address of an enrolment link."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    path = url_for("enrol.page", enrol_token=plain, _external=not base)
    return base.rstrip("/") + path if base else path


def _send_link(user, site, plain):
    """The link by SMS, through the outbox, in the member's language."""
    with force_locale(user.locale or "zh"):
        body = gettext(
            "[%(site)s] You were added to the security team. Set your password and authenticator within 72 hours: %(url)s",
            site=local_name(site),
            url=enrol_url(plain),
        )
    queue_sms(user.phone, body, "staff.enrol", site_id=site.id)


def _revoke_links(user):
    """Every open link of a user stops working."""
    db.session.execute(
        update(EnrolLink)
        .where(EnrolLink.user_id == user.id, EnrolLink.used_at.is_(None), EnrolLink.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def issue_link(actor, user, purpose):
    """A new single-use link (72 h) with a fresh pending TOTP secret; earlier open links stop working."""
    now = utcnow()
    _revoke_links(user)
    plain = new_token(LINK_PREFIX)
    link = EnrolLink(
        user_id=user.id,
        token_hash=token_hash(plain),
        purpose=purpose,
        totp_secret=pyotp.random_base32(),
        created_by_id=actor.id if actor is not None else None,
        expires_at=now + timedelta(hours=LINK_HOURS),
    )
    db.session.add(link)
    db.session.flush()
    record("staff.link", "user", user.id, site_id=user.site_id, purpose=purpose)
    return plain


def find_link(plain):
    """The open link for a plain token, or None (used, revoked, expired, or its member disabled)."""
    if not isinstance(plain, str) or len(plain) > 200 or not plain.startswith(LINK_PREFIX + "_"):
        return None
    link = db.session.scalar(db.select(EnrolLink).where(EnrolLink.token_hash == token_hash(plain)))
    if link is None or link.used_at is not None or link.revoked_at is not None or link.expires_at <= utcnow():
        return None
    return link if link.user.active else None


def _totp_step(secret, code):
    """The time step a 6-digit code matches (one step of drift), or None."""
    code = (code or "").strip().replace(" ", "") if isinstance(code, str) else ""
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(utcnow())
    for step in (now, now - 1, now + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def complete(link, password, confirm, code):
    """Set the password (new members) and the confirmed TOTP secret; the link is spent; returns (user, recovery codes)."""
    user = link.user
    errors = {}
    if not has_password(user):
        if password != confirm:
            errors["confirm"] = ("password_mismatch", "The two passwords differ.")
        else:
            validators.collect(errors, "password", check_new_password, password, user.login)
    step = _totp_step(link.totp_secret, code)
    if step is None:
        errors["otp"] = ("invalid_otp", "That code is not right; check the time on your phone and try again.")
    if errors:
        raise ValidationFailed(errors)
    spent = db.session.execute(
        update(EnrolLink).where(EnrolLink.id == link.id, EnrolLink.used_at.is_(None)).values(used_at=utcnow())
    )
    if spent.rowcount != 1:
        raise Refused("link_used", "This link was already used.", kind="gone")
    if not has_password(user):
        user.password_hash = hash_password(password)
    user.totp_secret = link.totp_secret
    user.totp_last_step = step  # the confirming code cannot log in a second time
    user.failed_logins = 0
    record("staff.enrol", "user", user.id, site_id=user.site_id, actor=user, purpose=link.purpose)
    return user, replace_codes(user)


def _other_active_managers(user):
    q = (
        db.select(func.count())
        .select_from(User)
        .where(User.site_id == user.site_id, User.role == "manager", User.active.is_(True), User.id != user.id)
    )
    return db.session.scalar(q)


def disable_member(actor, user):
    """Disable: every session, token and open link ends now; never the site's last active manager."""
    if not user.active:
        return user
    if user.role == "manager" and not _other_active_managers(user):
        raise Refused("last_manager", "A community needs at least one active manager.", kind="conflict")
    _revoke_links(user)
    accounts.disable(user)
    return user


def enable_member(actor, user):
    """Let a disabled member log in again (with the password and authenticator they had)."""
    if user.active:
        return user
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    record("user.enable", "user", user.id, site_id=user.site_id)
    return user


def reset_second_factor(actor, user):
    """Forget the member's authenticator, end their sessions and tokens; returns a new link's plain token."""
    if not user.active:
        raise Refused("disabled", "Enable this person first.", kind="conflict")
    user.totp_secret = None
    forget_codes(user)
    end_all_sessions(user)
    record("staff.reset_totp", "user", user.id, site_id=user.site_id)
    plain = issue_link(actor, user, "reset")
    if user.phone and user.site is not None:
        _send_link(user, user.site, plain)
    return plain
