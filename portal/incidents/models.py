"""Incidents the security team logs: what, where, how serious, its timeline, people, photos and escalations."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import StoredPhoto, Timestamped
from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db

# The seed's kinds (电梯困人, 可疑人员, 纠纷, 火情/烟雾, 漏水, 受伤, 盗窃, 损坏); labels live in labels.py.
KINDS = (
    "lift_entrapment",
    "suspicious_person",
    "dispute",
    "fire_smoke",
    "water_leak",
    "injury",
    "theft",
    "damage",
    "other",
)
SEVERITIES = ("low", "normal", "high", "critical")
ESCALATING = ("high", "critical")  # severities that escalate when nobody acknowledges
STATUSES = ("open", "acknowledged", "on_scene", "resolved")
SOURCES = ("desk", "phone", "api", "alarm")


class Incident(Timestamped, db.Model):
    """Something the team saw or was told; reported_at starts every response clock."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_site_status", "site_id", "status"),
        Index("ix_incidents_site_reported", "site_id", "reported_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    severity: Mapped[str] = mapped_column(String(8), nullable=False, default="normal")
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="open")
    source: Mapped[str] = mapped_column(String(8), nullable=False, default="desk")
    location: Mapped[str] = mapped_column(String(120), nullable=False)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    # The door alarm it came from, when one did (the alarms table links back by this id).
    alarm_id: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_scene_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closing_report: Mapped[str | None] = mapped_column(Text)
    site = relationship("Site")
    building = relationship("Building")
    device = relationship("Device")
    reported_by = relationship("User", foreign_keys=[reported_by_id])
    acknowledged_by = relationship("User", foreign_keys=[acknowledged_by_id])
    on_scene_by = relationship("User", foreign_keys=[on_scene_by_id])
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])
    photos = relationship("IncidentPhoto", back_populates="incident", order_by="IncidentPhoto.id")
    assignees = relationship("IncidentAssignee", order_by="IncidentAssignee.id", cascade="all, delete-orphan")
    events = relationship("IncidentEvent", order_by="IncidentEvent.id", cascade="all, delete-orphan")


class IncidentEvent(db.Model):
    """One line of an incident's timeline: who did what, when."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    actor = relationship("User")


class IncidentAssignee(db.Model):
    """A person put on an incident."""

    __tablename__ = "incident_assignees"
    __table_args__ = (UniqueConstraint("incident_id", "user_id", name="uq_incident_assignees"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    user = relationship("User", foreign_keys=[user_id])


class IncidentPhoto(StoredPhoto, db.Model):
    """An incident's photo, kept as complaint photos are: it shows people."""

    __tablename__ = "incident_photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False, index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    incident = relationship("Incident", back_populates="photos")


class IncidentEscalation(db.Model):
    """One step up the chain for one incident: the unique key makes each step happen once, whoever races."""

    __tablename__ = "incident_escalations"
    __table_args__ = (UniqueConstraint("incident_id", "step", name="uq_incident_escalations_step"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    notified: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # user ids told by SMS
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
