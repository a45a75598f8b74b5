"""What the bridge knows per device: each credential's desired and acknowledged state, and who works on the device."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db


class DeviceCredential(db.Model):
    """One credential key on one device: what should be there, what the device last acknowledged.

    desired_version is a per-row generation, bumped whenever the desired content changes
    (added, changed, revoked, expired); an acknowledgement counts only for the generation
    it was pushed for, so an old ack can never mark a newer desired state done.
    """

    __tablename__ = "device_credentials"
    __table_args__ = (
        UniqueConstraint("device_id", "key"),
        Index("ix_device_credentials_due", "device_id", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(40), nullable=False)
    pass_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: a row outlives a purged pass
    pass_version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    desired: Mapped[str] = mapped_column(String(8), nullable=False)  # present | absent
    desired_version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    acked_version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # What the device holds as far as we know: present | absent | None (never acknowledged).
    acked_state: Mapped[str | None] = mapped_column(String(8))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), default="pending", nullable=False)  # pending | ok | failed
    last_error: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class BridgeDevice(db.Model):
    """The bridge's working row per device: the claim (lease) a worker holds and its backoff."""

    __tablename__ = "bridge_devices"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
    # Set by `devices resync` and on reconnection: list the device's keys and delete strays.
    audit_keys: Mapped[bool] = mapped_column(default=True, nullable=False)


class BridgeChange(db.Model):
    """An outbox row: something a device may hold changed (kind pass | vehicle | device | site | building | unit, and its id).

    Written by the portal in the same transaction as the change (portal.core.wake); each bridge worker
    reads them from its own cursor and re-plans only what they touch (docs/bridge.md, "Incremental planning").
    """

    __tablename__ = "bridge_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    object_id: Mapped[int] = mapped_column(Integer, nullable=False)
    site_id: Mapped[int | None] = mapped_column(Integer)  # whose devices to look at; no FK: sites are never deleted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
