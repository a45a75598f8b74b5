"""Patrol rounds: checkpoints with signed stickers, routes with a schedule, rounds, scans and hazards."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from portal.core.models import Timestamped
from portal.core.timeutil import utcnow
from portal.core.types import EncryptedBytes, UTCDateTime
from portal.extensions import db

ROUND_STATES = ("scheduled", "active", "done", "missed")
HAZARD_STATES = ("open", "closed")


class Checkpoint(Timestamped, db.Model):
    """A place a guard must reach on a round; its sticker's QR is signed for this community only."""

    __tablename__ = "patrol_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)


class Route(Timestamped, db.Model):
    """An ordered walk through checkpoints, with the times of day (or every N hours) it is due."""

    __tablename__ = "patrol_routes"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    # {"times": ["08:00", "20:00"]} or {"every_hours": 2, "from": "00:00"}, in the site's zone; {} = on demand only.
    schedule: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    grace_minutes: Mapped[int] = mapped_column(Integer, default=5, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    stops = relationship("RouteStop", order_by="RouteStop.position", cascade="all, delete-orphan")


class RouteStop(db.Model):
    """One checkpoint of a route, in order, expected so many minutes after the previous one."""

    __tablename__ = "patrol_route_stops"
    __table_args__ = (UniqueConstraint("route_id", "position", name="uq_patrol_route_stops_position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("patrol_routes.id"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("patrol_checkpoints.id"), nullable=False)
    minutes: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    checkpoint = relationship("Checkpoint")


class Round(Timestamped, db.Model):
    """One walk of a route: scheduled, started by a guard, done, or closed as missed by the job."""

    __tablename__ = "patrol_rounds"
    __table_args__ = (
        # A schedule's slot makes at most one round, however many workers run the job.
        UniqueConstraint("route_id", "due_at", name="uq_patrol_rounds_route_due"),
        Index("ix_patrol_rounds_site_status", "site_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    route_id: Mapped[int] = mapped_column(ForeignKey("patrol_routes.id"), nullable=False)
    guard_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default="scheduled", nullable=False)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Each stop's expected time and the last moment a scan counts, fixed when the round starts.
    plan: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    route = relationship("Route")
    guard = relationship("User")
    scans = relationship("Scan", order_by="Scan.scanned_at", back_populates="round")


class Scan(db.Model):
    """A checkpoint reached on a round, at the time the phone saw it (synced later when offline)."""

    __tablename__ = "patrol_scans"
    __table_args__ = (
        # A retried sync sends the same client ids: each is applied once.
        UniqueConstraint("round_id", "client_id", name="uq_patrol_scans_client"),
        UniqueConstraint("round_id", "checkpoint_id", name="uq_patrol_scans_checkpoint"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("patrol_rounds.id"), nullable=False)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("patrol_checkpoints.id"), nullable=False)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    round = relationship("Round", back_populates="scans")
    checkpoint = relationship("Checkpoint")


class Hazard(Timestamped, db.Model):
    """A hazard a guard found (blocked fire lane, loose wiring…), with a photo, until it is closed."""

    __tablename__ = "patrol_hazards"
    __table_args__ = (
        UniqueConstraint("reported_by_id", "client_id", name="uq_patrol_hazards_client"),
        Index("ix_patrol_hazards_site_status", "site_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_rounds.id"))
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_checkpoints.id"))
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(8), default="open", nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    close_note: Mapped[str | None] = mapped_column(Text)
    # Re-encoded without metadata, encrypted like complaint photos; dropped after the site's retention.
    photo: Mapped[bytes | None] = deferred(mapped_column(EncryptedBytes))
    photo_type: Mapped[str | None] = mapped_column(String(16))
    # The incident it became (portal.patrol.incidents): the team follows it up there.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    checkpoint = relationship("Checkpoint")
    reported_by = relationship("User", foreign_keys=[reported_by_id])
