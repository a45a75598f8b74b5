"""The audit trail: who did what, when and from where."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db


class AuditEntry(db.Model):
    """An append-only record; rows are never updated or deleted by the app."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_kind: Mapped[str] = mapped_column(String(12), nullable=False)  # user|device|system|visitor
    action: Mapped[str] = mapped_column(String(48), nullable=False, index=True)
    object_type: Mapped[str] = mapped_column(String(24), nullable=False)
    object_id: Mapped[str | None] = mapped_column(String(40))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
