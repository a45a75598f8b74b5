"""Mixins shared by models."""

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.timeutil import utcnow
from portal.core.types import EncryptedBytes, UTCDateTime
from portal.extensions import db


class Timestamped:
    """created_at/updated_at evaluated per row, never at import."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class StoredPhoto:
    """A photo cleaned by portal.feedback.uploads.clean (re-encoded, no metadata), its bytes encrypted at rest."""

    content_type: Mapped[str] = mapped_column(String(16), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(EncryptedBytes, nullable=False, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    @classmethod
    def of(cls, photo, **links):
        """A row for one cleaned photo (portal.feedback.uploads.CleanPhoto), with its links (parent id, author)."""
        make: Any = cls  # a model class: its constructor takes the mapped columns
        return make(
            content_type=photo.content_type,
            width=photo.width,
            height=photo.height,
            size=len(photo.data),
            sha256=photo.sha256,
            data=photo.data,
            **links,
        )


__all__ = ["StoredPhoto", "Timestamped", "db"]
