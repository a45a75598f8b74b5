"""Where a guard on shift stands (their post), and what was offered to which guard (nearest first)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db

POST_KINDS = ("gate", "building", "patrol")
SUBJECTS = ("incident", "alarm")
WAVES = (1, 2)  # 1: the nearest guards; 2: everyone on shift, after WIDEN_SECONDS


class GuardPost(db.Model):
    """A shift's post: a gate, a building, or patrolling; one row per shift, changed as the guard moves."""

    __tablename__ = "guard_posts"
    shift_id: Mapped[int] = mapped_column(ForeignKey("desk_shifts.id"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    guard_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("gates.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    building = relationship("Building")
    gate = relationship("Gate")


class GuardOffer(db.Model):
    """An incident or alarm put before one guard; answered_at is set when anyone takes it on."""

    __tablename__ = "guard_offers"
    __table_args__ = (
        UniqueConstraint("subject", "subject_id", "guard_id", name="uq_guard_offers_subject_guard"),
        Index("ix_guard_offers_open", "site_id", "answered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    subject: Mapped[str] = mapped_column(String(8), nullable=False)
    subject_id: Mapped[int] = mapped_column(Integer, nullable=False)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    guard_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    wave: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    guard = relationship("User")
