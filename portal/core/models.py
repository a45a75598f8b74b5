"""Mixins shared by models."""

from datetime import datetime

from sqlalchemy.orm import Mapped, mapped_column

from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db


class Timestamped:
    """created_at/updated_at evaluated per row, never at import."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


__all__ = ["Timestamped", "db"]
