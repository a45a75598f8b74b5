"""Credential checks: passwords with per-account throttling, TOTP with replay memory."""

import hashlib
import hmac
import logging
import math
import time
from datetime import timedelta

import pyotp
from flask import current_app
from limits import storage
from sqlalchemy import update

from portal.accounts.models import User
from portal.accounts.passwords import verify_password
from portal.accounts.recovery import use_code
from portal.core.errors import ApiError
from portal.core.timeutil import utcnow
from portal.extensions import db

log = logging.getLogger(__name__)

FREE_FAILURES = 5
MAX_LOCK_SECONDS = 15 * 60  # long enough to stop guessing, short enough not to lock users out
UNKNOWN_MEMORY_SECONDS = 30 * 24 * 3600  # how long an unknown login's failures are remembered


def _lock_seconds(failures):
    """Exponential backoff after the free failures, capped: fewer than 30 guesses an hour."""
    if failures < FREE_FAILURES:
        return 0
    return min(2 ** (failures - FREE_FAILURES + 1), MAX_LOCK_SECONDS)


class LoginFailed(ApiError):
    """Same answer whether the login, the password or the staff code was wrong (or missing)."""

    def __init__(self):
        super().__init__(401, "bad_credentials", "Wrong login, password or code.")
        self.keep_changes = True


class LoginThrottled(ApiError):
    """Too many failures on this account; try again later."""

    def __init__(self, retry_after):
        super().__init__(
            429, "throttled", "Too many failed attempts. Try again later.", headers={"Retry-After": str(retry_after)}
        )
        self.keep_changes = True


def _record_failure(user):
    now = utcnow()
    failures = user.failed_logins + 1
    lock = _lock_seconds(failures)
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            failed_logins=User.failed_logins + 1,
            locked_until=(now + timedelta(seconds=lock)) if lock else user.locked_until,
        )
    )
    log.warning("login failure user_id=%s failures=%s", user.id, failures)


def _unknown_store():
    """The shared store (RATELIMIT_STORAGE_URI) that counts failures of logins that do not exist."""
    store = current_app.extensions.get("login_unknown_store")
    if store is None:
        store = storage.storage_from_string(current_app.config.get("RATELIMIT_STORAGE_URI") or "db://")
        current_app.extensions["login_unknown_store"] = store
    return store


def _unknown_key(login):
    # Keyed hash: people type passwords into the login field; the store never holds what was typed.
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), login.encode(), hashlib.sha256).hexdigest()[:32]
    return f"login-unknown:{digest}"


def _unknown_lock(key):
    """Seconds an unknown login stays locked, as for an account (0 when not locked)."""
    store = _unknown_store()
    if store.get(key + ":lock") <= 0:
        return 0
    return max(1, math.ceil(store.get_expiry(key + ":lock") - time.time()))


def _unknown_failure(key):
    """Count a failure of an unknown login with the accounts' own back-off, so a 429 tells nothing."""
    store = _unknown_store()
    lock = _lock_seconds(store.incr(key, UNKNOWN_MEMORY_SECONDS))
    if lock:
        store.incr(key + ":lock", lock)


def authenticate(login, password, otp=None):
    """Return the user for good credentials; raise LoginFailed or LoginThrottled.

    A wrong password and a right password with a wrong or missing staff code get the same answer,
    and unknown logins are throttled like real ones: neither confirms a password or an account.
    """
    if not isinstance(login, str) or not isinstance(password, str) or len(login) > 64:
        verify_password(None, "x")
        raise LoginFailed()
    login = login.strip().lower()
    user = db.session.scalar(db.select(User).where(User.login == login))
    now = utcnow()
    if user is None:
        key = _unknown_key(login)
        wait = _unknown_lock(key)
        if wait:
            raise LoginThrottled(wait)
        verify_password(None, password)
        _unknown_failure(key)
        log.warning("login failure for unknown account")
        raise LoginFailed()
    if user.locked_until and user.locked_until > now:
        raise LoginThrottled(max(1, math.ceil((user.locked_until - now).total_seconds())))
    if (
        not verify_password(user.password_hash, password)
        or not user.active
        or (user.is_staff and not (verify_totp(user, otp) or (user.totp_secret and use_code(user, otp))))
    ):
        _record_failure(user)
        raise LoginFailed()
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
