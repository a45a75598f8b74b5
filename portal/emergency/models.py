"""Emergencies and drills, each device's release and restore, and the roll call: all kept as records."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db

KINDS = ("fire", "evacuation", "drill")
RELEASING = ("fire", "evacuation")  # a drill releases nothing
#: Device kinds an emergency releases: doors, barriers and what drives them; lifts return to normal service.
DEVICE_KINDS = ("door_controller", "barrier", "elevator_controller", "face_terminal")


class Emergency(db.Model):
    """One emergency or drill at a site, with its timings."""

    __tablename__ = "emergencies"
    __table_args__ = (
        # At most one running per site, whoever presses the button at the same moment.
        Index(
            "uq_emergencies_site_running",
            "site_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last device acknowledged its release
    roll_complete_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last person accounted for
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_by = relationship("User", foreign_keys=[started_by_id])
    ended_by = relationship("User", foreign_keys=[ended_by_id])

    @property
    def releasing(self):
        """True for fire and evacuation: doors are released."""
        return self.kind in RELEASING


class EmergencyDevice(db.Model):
    """What one device should do for an emergency (release, then restore) and what it acknowledged."""

    __tablename__ = "emergency_devices"
    __table_args__ = (
        UniqueConstraint("emergency_id", "device_id"),
        Index("ix_emergency_devices_due", "state", "device_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    emergency_id: Mapped[int] = mapped_column(ForeignKey("emergencies.id"), nullable=False)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False)  # release | restore
    state: Mapped[str] = mapped_column(String(10), default="pending", nullable=False)  # pending|released|restored|failed
    error: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device = relationship("Device")


class RollCallEntry(db.Model):
    """A visitor or contractor on site when the emergency began, and when a guard accounted for them."""

    __tablename__ = "roll_call_entries"
    __table_args__ = (UniqueConstraint("emergency_id", "pass_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    emergency_id: Mapped[int] = mapped_column(ForeignKey("emergencies.id"), nullable=False, index=True)
    pass_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the record outlives a purged pass
    visitor_name: Mapped[str] = mapped_column(String(120), nullable=False)
    pass_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    building: Mapped[str | None] = mapped_column(String(80))
    unit: Mapped[str | None] = mapped_column(String(80))
    sms_sent: Mapped[bool] = mapped_column(default=False, nullable=False)
    accounted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accounted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accounted_by = relationship("User")
