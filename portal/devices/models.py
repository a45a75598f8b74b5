"""Devices: gate readers, door and elevator controllers, face terminals, barriers."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped
from portal.core.types import EncryptedJSON, UTCDateTime
from portal.extensions import db

KINDS = ("gate_reader", "door_controller", "elevator_controller", "face_terminal", "barrier")


class Device(Timestamped, db.Model):
    """A device at a site, with the driver that talks to it."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(80))  # shown on English pages when set
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    driver: Mapped[str] = mapped_column(String(24), default="simulator", nullable=False)
    # Driver options may hold passwords and keys, so they are encrypted at rest.
    options: Mapped[dict] = mapped_column(EncryptedJSON, nullable=False, default=dict)
    # What it serves; an empty list means the whole site.
    gate_ids: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    doors: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    floors: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    site = relationship("Site")


class DeviceCommand(Timestamped, db.Model):
    """A one-off command for the bridge to carry out (remote open), with its outcome."""

    __tablename__ = "device_commands"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # open | call_lift
    door: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default="queued", nullable=False, index=True)  # queued|done|failed
    error: Mapped[str | None] = mapped_column(String(200))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device = relationship("Device")
