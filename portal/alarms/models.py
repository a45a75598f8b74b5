"""Alarms raised by devices, kept after they are acknowledged or clear themselves."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db

#: One vocabulary for every driver; vendors' payloads are translated into these at the bridge's boundary.
KINDS = ("door_forced", "door_held", "tamper", "duress", "fire_input", "power_loss", "link_loss")
#: Kinds that end by themselves when the device reports the condition gone (the record stays).
SELF_CLEARING = ("door_held",)


class Alarm(db.Model):
    """One alarm from one device: raised, maybe cleared by the device, acknowledged by a guard."""

    __tablename__ = "alarms"
    __table_args__ = (
        # A device's report carried again (a replayed stream, a reconnect) is the same alarm, never a second one.
        UniqueConstraint("device_id", "source_key"),
        Index("ix_alarms_site_open", "site_id", "acknowledged_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    door: Mapped[int | None] = mapped_column(Integer)
    source_key: Mapped[str | None] = mapped_column(String(64))  # the device's serial or event id, when it has one
    details: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    repeats: Mapped[int] = mapped_column(Integer, default=0, nullable=False)  # reports while already raised
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False, index=True)
    device = relationship("Device")
    acknowledged_by = relationship("User")

    @property
    def state(self):
        """open | acknowledged | cleared (a held door that closed before anyone acknowledged)."""
        if self.acknowledged_at is not None:
            return "acknowledged"
        return "cleared" if self.cleared_at is not None else "open"
