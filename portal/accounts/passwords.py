"""Password rules (NIST 800-63B 5.1.1.2) and argon2id hashing."""

import os
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from portal.core.validators import FieldError

MIN_LEN = 8
MAX_LEN = 128  # no truncation: argon2 hashes every character

# argon2id with RFC 9106's low-memory profile; the test suite alone may lower the cost.
_hasher = (
    PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    if os.environ.get("PORTAL_TEST_FAST_HASH") == "1"
    else PasswordHasher()
)


@lru_cache(maxsize=1)
def _dummy_hash():
    """Spent on unknown logins so timing does not reveal whether an account exists; made on first use."""
    return _hasher.hash("not-a-real-password-for-timing")


@lru_cache(maxsize=1)
def _common():
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_new_password(password, login=None):
    """Length and blocklist checks only; no composition rules."""
    if not isinstance(password, str) or len(password) < MIN_LEN:
        raise FieldError("password_too_short", "Use at least %(min)s characters.", min=MIN_LEN)
    if len(password) > MAX_LEN:
        raise FieldError("password_too_long", "Use at most %(max)s characters.", max=MAX_LEN)
    lowered = password.lower()
    if lowered in _common() or (login and lowered == login.lower()):
        raise FieldError("password_common", "This password is too common; choose another.")
    return password


def hash_password(password):
    """argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(stored_hash, password):
    """Constant-work check; also burns time when there is no account."""
    if stored_hash is None:
        try:
            _hasher.verify(_dummy_hash(), password or "x")
        except VerificationError:
            pass
        return False
    try:
        return _hasher.verify(stored_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
