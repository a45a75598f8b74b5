"""Bearer tokens for the API (users) and for devices."""

from datetime import timedelta

from flask import current_app, request
from sqlalchemy.orm import joinedload

from portal.accounts.models import ApiToken
from portal.core.crypto import new_token, token_hash
from portal.core.timeutil import utcnow
from portal.extensions import db

USER_PREFIX = "vpu"
DEVICE_PREFIX = "vpd"


def issue_user_token(user):
    """A short-lived token for a logged-in user; returns (plain token, row)."""
    plain = new_token(USER_PREFIX)
    row = ApiToken(
        token_hash=token_hash(plain),
        kind="user",
        user_id=user.id,
        expires_at=utcnow() + timedelta(hours=current_app.config["API_TOKEN_HOURS"]),
    )
    db.session.add(row)
    db.session.flush()
    return plain, row


def issue_device_token(device, name=None):
    """A long-lived token for a device; the plain value is shown once."""
    plain = new_token(DEVICE_PREFIX)
    row = ApiToken(token_hash=token_hash(plain), kind="device", device_id=device.id, name=name)
    db.session.add(row)
    db.session.flush()
    return plain, row


def bearer():
    """The bearer token of the request, if any."""
    return from_header(request.headers.get("Authorization", ""))


def from_header(header):
    """The bearer token an Authorization header's value carries, if any."""
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def lookup(plain, kind):
    """The live token row of a kind for a plain token, or None."""
    if not plain or len(plain) > 200 or not plain.startswith((USER_PREFIX if kind == "user" else DEVICE_PREFIX) + "_"):
        return None
    query = db.select(ApiToken).where(ApiToken.token_hash == token_hash(plain))
    if kind == "user":
        query = query.options(joinedload(ApiToken.user))  # every caller reads row.user next: one round trip, not two
    row = db.session.scalar(query)
    if row is None or row.kind != kind or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    return row


def revoke(row):
    """Revoke a token now."""
    row.revoked_at = utcnow()
