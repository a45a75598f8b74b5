"""Face consent, templates (apart from identity data), terminal photos and erasure tracking."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.timeutil import utcnow
from portal.core.types import EncryptedBytes, UTCDateTime
from portal.extensions import db


class FaceConsent(db.Model):
    """A visitor's separate, explicit consent to face entry for one pass (PIPL art. 29)."""

    __tablename__ = "face_consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(ForeignKey("passes.id", ondelete="CASCADE"), nullable=False, index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    version: Mapped[str] = mapped_column(String(16), nullable=False)  # of the consent text shown
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    ip_hash: Mapped[str | None] = mapped_column(String(40))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FaceTemplate(db.Model):
    """The 128-d encoding (float32 bytes); no name or phone here, only the pass it belongs to."""

    __tablename__ = "face_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(ForeignKey("passes.id", ondelete="CASCADE"), nullable=False, unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("face_consents.id", ondelete="CASCADE"), nullable=False, index=True)
    encoding: Mapped[bytes] = mapped_column(LargeBinary(512), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class FaceImage(db.Model):
    """The terminal-ready JPEG, encrypted, kept only while the pass is live."""

    __tablename__ = "face_images"
    pass_id: Mapped[int] = mapped_column(ForeignKey("passes.id", ondelete="CASCADE"), primary_key=True)
    jpeg: Mapped[bytes] = mapped_column(EncryptedBytes, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class FaceErasure(db.Model):
    """A request to remove a face from every terminal, and which terminals acknowledged it.

    pass_id is a plain number: the record must outlive the pass until every terminal confirmed.
    """

    __tablename__ = "face_erasures"
    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    reason: Mapped[str] = mapped_column(String(16), nullable=False)  # withdrawn | ended | retention
    pass_version: Mapped[int] = mapped_column(Integer, nullable=False)  # desired state without the face
    device_ids: Mapped[list] = mapped_column(JSON, default=list, nullable=False)  # face terminals to confirm
    acked_ids: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class FaceIndexStamp(db.Model):
    """Bumped with every change to a site's templates, so cached search matrices in every process notice."""

    __tablename__ = "face_index_stamps"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    # Random rather than a counter, so two databases in one process never look alike.
    stamp: Mapped[str] = mapped_column(String(32), nullable=False)
