"""A resident household's car: one normalised plate per site, active or waiting for a manager."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped
from portal.core.types import UTCDateTime
from portal.extensions import db

STATUSES = ("active", "pending")


class Vehicle(Timestamped, db.Model):
    """A plate registered by a unit's residents; removed plates are deleted (the audit log keeps them)."""

    __tablename__ = "vehicles"
    # Also the gate's look-up: a barrier's plate is found by (site, plate) in one index probe.
    __table_args__ = (UniqueConstraint("site_id", "plate", name="uq_vehicles_site_plate"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    plate: Mapped[str] = mapped_column(String(16), nullable=False)  # normalised
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="active")
    # The last lift this car passed ("in" | "out"): one car per lift, as for visitors' plates.
    last_direction: Mapped[str | None] = mapped_column(String(3))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unit = relationship("Unit")
