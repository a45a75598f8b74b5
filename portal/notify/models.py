"""Outgoing messages: the SMS outbox and its delivery status."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped
from portal.core.timeutil import utcnow
from portal.core.types import EncryptedText, UTCDateTime
from portal.extensions import db

# queued -> sending -> sent -> delivered | undelivered | failed
STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed")


class Message(Timestamped, db.Model):
    """One SMS, written in the request's transaction and sent after commit by the worker."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), default="sms", nullable=False)
    to: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    body: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("passes.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued", nullable=False, index=True)
    backend: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The StatusCallback URL given to the provider, fixed when queued (the worker has no request host).
    callback_url: Mapped[str | None] = mapped_column(String(255))
    pass_ = relationship("Pass")

    @property
    def error_message(self):
        """The stored English msgid of the failure, in the current language."""
        from flask_babel import gettext

        return gettext(self.error) if self.error else None
