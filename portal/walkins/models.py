"""Walk-ins and item movements: requests at the gate that a host approves from the phone."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped
from portal.core.types import EncryptedText, UTCDateTime
from portal.extensions import db

APPROVAL_STATES = ("pending", "approved", "refused", "expired")


class HostApproval:
    """Columns shared by requests a host approves from the phone (walk-ins, item movements)."""

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(8), default="pending", nullable=False)
    # The SMS link carries a random token; only its hash is stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(8))  # host | guard | permit | manager
    guard_reason: Mapped[str | None] = mapped_column(String(300))


class WalkIn(HostApproval, Timestamped, db.Model):
    """A visitor who came without a pass; the host approves, refuses, or it times out."""

    __tablename__ = "walk_ins"
    id: Mapped[int] = mapped_column(primary_key=True)
    visitor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    visitor_phone: Mapped[str | None] = mapped_column(EncryptedText)
    visitor_id_number: Mapped[str | None] = mapped_column(EncryptedText)
    plate: Mapped[str | None] = mapped_column(String(16))
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("gates.id"))
    purpose: Mapped[str | None] = mapped_column(String(200))
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("passes.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("access_events.id"))
    unit = relationship("Unit")
    gate = relationship("Gate")


class ItemMovement(HostApproval, Timestamped, db.Model):
    """Large items or renovation material carried in or out (物品出入登记), approved by the host."""

    __tablename__ = "item_movements"
    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(4), nullable=False)  # in | out
    description: Mapped[str] = mapped_column(String(300), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    carrier_name: Mapped[str | None] = mapped_column(String(64))
    plate: Mapped[str | None] = mapped_column(String(16))
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("gates.id"))
    # For a unit nobody lives in: the works' permit the goods were logged against (approved_by "permit").
    permit_id: Mapped[int | None] = mapped_column(ForeignKey("permits.id"))
    unit = relationship("Unit")
    gate = relationship("Gate")
