"""Permits (施工/装修 登记备案) with their workers and documents, and freight vehicles approved for a window."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from portal.core.models import Timestamped
from portal.core.timeutil import utcnow
from portal.core.types import EncryptedBytes, EncryptedText, UTCDateTime
from portal.extensions import db

KINDS = ("renovation", "contractor")
# pending -> approved | refused; approved -> suspended (its passes revoked at once) -> approved (new passes).
STATUSES = ("pending", "approved", "refused", "suspended")
DOCUMENT_KINDS = ("licence", "worker_id", "other")


class Permit(Timestamped, db.Model):
    """A unit's works: who does them, where and when; approval issues the workers' passes."""

    __tablename__ = "permits"
    __table_args__ = (Index("ix_permits_site_status", "site_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False, default="renovation")
    company: Mapped[str] = mapped_column(String(120), nullable=False)
    responsible_name: Mapped[str] = mapped_column(String(64), nullable=False)
    responsible_phone: Mapped[str | None] = mapped_column(EncryptedText)
    work_area: Mapped[str] = mapped_column(String(120), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    daily_start: Mapped[str] = mapped_column(String(5), nullable=False)  # HH:MM, local time of the site
    daily_end: Mapped[str] = mapped_column(String(5), nullable=False)
    days: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # ISO weekdays; empty: every day
    plates: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # the works' vehicles, normalised
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(String(300))
    unit = relationship("Unit")
    applicant = relationship("User", foreign_keys=[applicant_id])
    workers = relationship("PermitWorker", back_populates="permit", order_by="PermitWorker.id")
    documents = relationship("PermitDocument", back_populates="permit", order_by="PermitDocument.id")


class PermitWorker(db.Model):
    """One worker of a permit; their ID number is checked and stored encrypted, shown masked."""

    __tablename__ = "permit_workers"
    id: Mapped[int] = mapped_column(primary_key=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("permits.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    id_number: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("passes.id"))
    permit = relationship("Permit", back_populates="workers")


class PermitDocument(db.Model):
    """A company licence or a worker's ID: a cleaned photo or a PDF, encrypted at rest."""

    __tablename__ = "permit_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("permits.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    content_type: Mapped[str] = mapped_column(String(24), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = deferred(mapped_column(EncryptedBytes, nullable=False))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    permit = relationship("Permit", back_populates="documents")


class FreightApproval(Timestamped, db.Model):
    """A freight or engineering vehicle a manager lets in for a window (货运/工程车辆 报备并获得批准)."""

    __tablename__ = "freight_approvals"
    # The barrier's look-up: (site, plate), newest window first.
    __table_args__ = (Index("ix_freight_site_plate", "site_id", "plate", "valid_until"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    plate: Mapped[str] = mapped_column(String(16), nullable=False)
    company: Mapped[str] = mapped_column(String(120), nullable=False)
    purpose: Mapped[str] = mapped_column(String(200), nullable=False)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="active")  # active | revoked
    last_direction: Mapped[str | None] = mapped_column(String(3))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
