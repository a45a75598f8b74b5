"""Credential checks: passwords with per-account throttling, TOTP with replay memory."""
import logging
import math
from datetime import timedelta

import pyotp
from sqlalchemy import update

from portal.accounts.models import User
from portal.accounts.passwords import verify_password
from portal.core.errors import ApiError
from portal.core.timeutil import utcnow
from portal.extensions import db

log = logging.getLogger(__name__)

FREE_FAILURES = 5
MAX_LOCK_SECONDS = 15 * 60  # long enough to stop guessing, short enough not to lock users out


def _lock_seconds(failures):
    """Exponential backoff after the free failures, capped: fewer than 30 guesses an hour."""
    if failures < FREE_FAILURES:
        return 0
    return min(2 ** (failures - FREE_FAILURES + 1), MAX_LOCK_SECONDS)


class LoginFailed(ApiError):
    """Same answer whether the login or the password was wrong."""

    def __init__(self):
        super().__init__(401, "bad_credentials", "Wrong login, password or code.")
        self.keep_changes = True


class LoginThrottled(ApiError):
    """Too many failures on this account; try again later."""

    def __init__(self, retry_after):
        super().__init__(429, "throttled", "Too many failed attempts. Try again later.",
                         headers={"Retry-After": str(retry_after)})
        self.keep_changes = True


def _record_failure(user):
    now = utcnow()
    failures = user.failed_logins + 1
    lock = _lock_seconds(failures)
    db.session.execute(
        update(User).where(User.id == user.id).values(
            failed_logins=User.failed_logins + 1,
            locked_until=(now + timedelta(seconds=lock)) if lock else user.locked_until,
        )
    )
    log.warning("login failure user_id=%s failures=%s", user.id, failures)


def authenticate(login, password, otp=None):
    """Return the user for good credentials; raise LoginFailed or LoginThrottled."""
    if not isinstance(login, str) or not isinstance(password, str) or len(login) > 64:
        verify_password(None, "x")
        raise LoginFailed()
    user = db.session.scalar(db.select(User).where(User.login == login.strip().lower()))
    if user is None:
        verify_password(None, password)
        log.warning("login failure for unknown account")
        raise LoginFailed()
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        raise LoginThrottled(max(1, math.ceil((user.locked_until - now).total_seconds())))
    if not verify_password(user.password_hash, password) or not user.active:
        _record_failure(user)
        raise LoginFailed()
    if user.is_staff and not verify_totp(user, otp):
        _record_failure(user)
        raise ApiError(401, "otp_required", "Staff accounts need the 6-digit code from the authenticator app.")
    user.failed_logins = 0
    user.locked_until = None
    return user


def verify_totp(user, otp):
    """RFC 6238 with one step of drift; each step is accepted once (conditional update)."""
    if not user.totp_secret or not isinstance(otp, str):
        return False
    otp = otp.strip().replace(" ", "")
    if not otp.isdigit() or len(otp) != 6:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = utcnow()
    step_now = totp.timecode(now)
    for step in (step_now, step_now - 1, step_now + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), otp):
            res = db.session.execute(
                update(User).where(User.id == user.id, User.totp_last_step < step).values(totp_last_step=step)
            )
            return res.rowcount == 1
    return False
