"""The desk's own tables: exceptions, shifts and job cursors."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped
from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db

# What needs a human; labels live in portal/desk/labels.py.
EXCEPTION_KINDS = (
    "denied",
    "watchlist",
    "name_match",
    "anti_passback",
    "keypad_burst",
    "device_offline",
    "push_failed",
    "offline_double_use",
    "lost_events",
    "overstay",
    "patrol_missed",
    "patrol_late",
)
EXCEPTION_STATES = ("open", "taken", "closed")
OUTCOMES = (
    "resolved",
    "visitor_let_in",
    "visitor_turned_away",
    "police_called",
    "false_alarm",
    "device_fixed",
    "escalated",
    "auto_resolved",
)


class DeskException(Timestamped, db.Model):
    """Something at a site that needs a guard: taken, acted on, closed with an outcome."""

    __tablename__ = "desk_exceptions"
    __table_args__ = (
        Index("ix_desk_exceptions_site_status", "site_id", "status"),
        Index("ix_desk_exceptions_group", "site_id", "group_key", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    status: Mapped[str] = mapped_column(String(8), default="open", nullable=False)
    # Repeats of the same thing (same gate and reason, same device) add to one exception.
    group_key: Mapped[str] = mapped_column(String(80), nullable=False)
    count: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    first_event_id: Mapped[int | None] = mapped_column(ForeignKey("access_events.id"))
    last_event_id: Mapped[int | None] = mapped_column(ForeignKey("access_events.id"))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("gates.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("passes.id"))
    reason: Mapped[str | None] = mapped_column(String(24))
    details: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    gate = relationship("Gate")
    device = relationship("Device")
    taken_by = relationship("User", foreign_keys=[taken_by_id])


class Shift(db.Model):
    """A guard's shift at the desk; its notes are the handover to the next one."""

    __tablename__ = "desk_shifts"
    __table_args__ = (Index("ix_desk_shifts_site_started", "site_id", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    guard_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str | None] = mapped_column(Text)
    # Exceptions still open when the shift ended, handed to the next guard.
    open_exception_ids: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    guard = relationship("User")


class DeskCursor(db.Model):
    """Where a desk job got to (e.g. the last pass screened against watchlist names)."""

    __tablename__ = "desk_cursors"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
