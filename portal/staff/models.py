"""One-time enrolment links: a new member's (or a reset second factor's) way to set a password and TOTP."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.timeutil import utcnow
from portal.core.types import EncryptedText, UTCDateTime
from portal.extensions import db

PURPOSES = ("enrol", "reset")


class EnrolLink(db.Model):
    """A single-use link, stored hashed; it carries the TOTP secret until the member confirms a code."""

    __tablename__ = "staff_enrol_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    purpose: Mapped[str] = mapped_column(String(8), nullable=False)
    # Pending until confirmed: the account's own secret is set only once a code from it was checked.
    totp_secret: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user = relationship("User", foreign_keys=[user_id])
