"""Tables behind edge decisions and device events: journal receipts and per-device event cursors."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db


class EdgeReceipt(db.Model):
    """One offline decision of an edge store, reported once: its uid makes reporting idempotent."""

    __tablename__ = "edge_receipts"
    uid: Mapped[str] = mapped_column(String(48), primary_key=True)  # "<store id>-<journal row id>"
    store_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("access_events.id", ondelete="SET NULL"))
    pass_id: Mapped[int | None] = mapped_column(Integer)
    double_use: Mapped[bool] = mapped_column(default=False, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class DeviceEventCursor(db.Model):
    """The last serial number ingested from a device, and how many were lost in gaps."""

    __tablename__ = "device_event_cursors"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    ingested: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    lost: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_gap_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
