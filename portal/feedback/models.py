"""Complaints and suggestions, their thread and photos, follow-up tasks, escalations and surveys."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import StoredPhoto, Timestamped
from portal.core.timeutil import utcnow
from portal.core.types import EncryptedText, UTCDateTime
from portal.extensions import db

KINDS = ("complaint", "suggestion", "help")
# A help request (a resident locked out, needing an escort, a delivery held) has its own categories and SLA.
HELP_CATEGORIES = ("locked_out", "escort", "delivery_held")
CATEGORIES = ("security", "noise", "parking", "guard_conduct", "facilities", "other", *HELP_CATEGORIES)
# Where a filing came from: the resident's own phone, or staff taking it at the counter, on the phone or the hotline.
SOURCES = ("resident", "counter", "phone", "hotline")
PRIORITIES = ("urgent", "high", "normal", "low")
# new -> triaged -> in_progress (answered) -> resolved -> closed (after the follow-up visit); reopen goes back to in_progress.
STATUSES = ("new", "triaged", "in_progress", "resolved", "closed")
OPEN_STATUSES = ("new", "triaged", "in_progress")
FOLLOW_UP_KINDS = ("visit", "survey")
OUTCOMES = ("solved", "not_solved", "unreachable", "contacted")
SURVEY_KINDS = ("visit", "complaint")


class Complaint(Timestamped, db.Model):
    """A resident's complaint or suggestion, worked by the site's security team."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_site_status", "site_id", "status"),
        Index("ix_complaints_site_created", "site_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # Always kept so the resident sees their own filing; hidden from staff when anonymous.
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False, default="complaint")
    anonymous: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    location: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="new")
    priority: Mapped[str] = mapped_column(String(8), nullable=False, default="normal")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_response_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    due_resolution_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Last time the resident opened it: newer answers show as unread in the portal.
    resident_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(8), nullable=False, default="resident", server_default="resident")
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the guard or manager who took it
    site = relationship("Site")
    unit = relationship("Unit")
    author = relationship("User", foreign_keys=[author_id])
    filed_by = relationship("User", foreign_keys=[filed_by_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    messages = relationship("ComplaintMessage", back_populates="complaint", order_by="ComplaintMessage.id")
    photos = relationship("ComplaintPhoto", back_populates="complaint", order_by="ComplaintPhoto.id")


class ComplaintMessage(db.Model):
    """One entry of the thread: a resident's message, a staff answer or note, or a status change."""

    __tablename__ = "complaint_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), nullable=False, index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # resident | staff | system
    author_role: Mapped[str] = mapped_column(String(8), nullable=False)
    # message (resident) | response (staff, seen by the resident) | note (staff only) | event (status change)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    internal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    body: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    complaint = relationship("Complaint", back_populates="messages")
    author = relationship("User")


class ComplaintPhoto(StoredPhoto, db.Model):
    """A complaint's photo; encrypted at rest like the other personal fields: it shows faces, plates and homes."""

    __tablename__ = "complaint_photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), nullable=False, index=True)
    complaint = relationship("Complaint", back_populates="photos")


class FollowUp(Timestamped, db.Model):
    """A follow-up task: the visit after a complaint is resolved (回访), or a low survey score."""

    __tablename__ = "feedback_follow_ups"
    __table_args__ = (Index("ix_feedback_follow_ups_site_status", "site_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"), unique=True)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="open")  # open | done
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    outcome: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    complaint = relationship("Complaint")
    survey = relationship("Survey", foreign_keys=[survey_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    done_by = relationship("User", foreign_keys=[done_by_id])


class Escalation(db.Model):
    """An overdue item brought to the managers; one per item, kind and deadline."""

    __tablename__ = "feedback_escalations"
    __table_args__ = (UniqueConstraint("complaint_id", "kind", "due_at"), UniqueConstraint("follow_up_id", "kind", "due_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_follow_ups.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)  # response | resolution | follow_up
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    notified: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # manager user ids
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Survey(db.Model):
    """A one-question satisfaction survey, answered once through an expiring link."""

    __tablename__ = "surveys"
    __table_args__ = (
        UniqueConstraint("token_hash"),
        UniqueConstraint("pass_id"),
        Index("ix_surveys_site_answered", "site_id", "answered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("passes.id"))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    token: Mapped[str] = mapped_column(EncryptedText, nullable=False)  # kept to show the link in the portal
    locale: Mapped[str] = mapped_column(String(8), nullable=False, default="zh")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    user = relationship("User")
    site = relationship("Site")
    pass_ = relationship("Pass")
    complaint = relationship("Complaint")
