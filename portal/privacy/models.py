"""A community's own retention period for one kind of data (absent: the default for that kind)."""

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.models import Timestamped
from portal.extensions import db


class SiteRetention(Timestamped, db.Model):
    """Days a site keeps one kind of data (visits, faces, patrol photos) after it stops being needed."""

    __tablename__ = "site_retention"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
