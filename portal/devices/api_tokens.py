"""Device API tokens as the gate checks them: the one-query authentication and the spool's lookup by hash."""

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask import g
from sqlalchemy import and_, bindparam

from portal.accounts import bearer
from portal.accounts.models import ApiToken
from portal.core import reads
from portal.core.crypto import token_hash
from portal.core.errors import ApiError
from portal.core.timeutil import utcnow
from portal.devices.models import Device
from portal.extensions import db

# Devices in these states must not be trusted even with a live token.
# A removed device never authenticates again, even with a token issued after its removal.
BLOCKED_STATUSES = ("disabled", "retired", "removing", "removed")
# Writing last_used_at on every scan would cost a write per request; once a few minutes is enough.
_TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class DeviceRef:
    """The fields of an authenticated device a request needs (read with its token in one select)."""

    id: int
    site_id: int
    gate_ids: tuple
    kind: str
    status: str
    token_id: int
    touch_due: bool  # last_used_at is old enough to be written again

    @property
    def gate_id(self):
        """The gate events are recorded at: the device's gate when it serves exactly one."""
        return self.gate_ids[0] if len(self.gate_ids) == 1 else None


def authenticate(presented):
    """The device behind a presented token's hash (bearer_hash), in one Core query; 401 otherwise (user tokens never pass).

    The gate's hot path calls this on every scan, so it reads plain columns instead of ORM objects.
    """
    found = reads.rows(_auth_statement(), token_hash=presented)
    return device_from_row(found[0] if found else None)


def bearer_hash(header=None):
    """The hash to look the presented device token up by (the request's, or this Authorization header's); else 401."""
    plain = bearer.bearer() if header is None else bearer.from_header(header)
    prefix = bearer.DEVICE_PREFIX + "_"
    if not plain or len(plain) > 200 or not plain.startswith(prefix):
        raise ApiError(401, "unauthorized", "A valid device token is required.")
    return token_hash(plain)


def device_from_row(row):
    """The DeviceRef for a row of auth_columns() (None: no such token), or 401; noted in g.device."""
    now = utcnow()
    if (
        row is None
        or row["revoked_at"] is not None
        or (row["expires_at"] is not None and row["expires_at"] <= now)
        or row["status"] in BLOCKED_STATUSES
    ):
        raise ApiError(401, "unauthorized", "A valid device token is required.")
    due = row["last_used_at"] is None or now - row["last_used_at"] > _TOUCH_EVERY
    device = DeviceRef(
        row["device_id"], row["site_id"], tuple(row["gate_ids"] or ()), row["kind"], row["status"], row["token_id"], due
    )
    g.device = device
    return device


@dataclass(frozen=True)
class SpooledDevice:
    """A device as a token hash named it, for attempts answered while the token could not be checked."""

    id: int
    site_id: int
    gate_id: int | None
    status: str
    revoked_at: object
    expires_at: object

    def valid_at(self, when):
        """True when the token worked at `when` and the device may still be trusted."""
        return (
            self.status not in BLOCKED_STATUSES
            and (self.revoked_at is None or self.revoked_at > when)
            and (self.expires_at is None or self.expires_at > when)
        )


def devices_by_hash(hashes):
    """{token hash: SpooledDevice} for the device tokens among hashes (one select; unknown hashes are absent)."""
    if not hashes:
        return {}
    t = ApiToken.__table__
    source, _ = auth_from()
    q = (
        db.select(t.c.token_hash, *auth_columns())
        .select_from(source)
        .where(t.c.token_hash.in_(sorted(hashes)), t.c.kind == "device")
    )
    found = {}
    for row in db.session.execute(q).mappings():
        gates = tuple(row["gate_ids"] or ())
        found[row["token_hash"]] = SpooledDevice(
            row["device_id"],
            row["site_id"],
            gates[0] if len(gates) == 1 else None,
            row["status"],
            row["revoked_at"],
            row["expires_at"],
        )
    return found


def touch_write(device, now):
    """(statement, params) noting when the token was last used; the gate writes it with the scan's event."""
    return _touch_statement(), {"token_id": device.token_id, "now": now}


def auth_columns():
    """The token and device columns device_from_row reads."""
    t, d = ApiToken.__table__, Device.__table__
    return (
        t.c.id.label("token_id"),
        t.c.revoked_at,
        t.c.expires_at,
        t.c.last_used_at,
        d.c.id.label("device_id"),
        d.c.site_id,
        d.c.gate_ids,
        d.c.kind,
        d.c.status,
    )


def auth_from():
    """(FROM clause, WHERE condition) of the token lookup, for statements that read more with it."""
    t, d = ApiToken.__table__, Device.__table__
    return t.join(d, d.c.id == t.c.device_id), and_(t.c.token_hash == bindparam("token_hash"), t.c.kind == "device")


@cache
def _auth_statement():
    # Built once with a bind parameter, so SQLAlchemy reuses its cache key and compiled SQL.
    source, condition = auth_from()
    return db.select(*auth_columns()).select_from(source).where(condition)


@cache
def _touch_statement():
    t = ApiToken.__table__
    return db.update(t).where(t.c.id == bindparam("token_id")).values(last_used_at=bindparam("now", type_=t.c.last_used_at.type))
