"""Watchlist entries; identity values are kept only as keyed hashes plus a masked hint."""

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.models import Timestamped
from portal.extensions import db


class WatchlistEntry(Timestamped, db.Model):
    """A person or a plate that must not get in at a site."""

    __tablename__ = "watchlist"
    # One index per identity column, led by the site: a gate's probe is an index lookup whatever the list's
    # size (portal.watchlist.matching). No (site_id, active) index: SQLite, without statistics, preferred it
    # and then filtered every entry of the site.
    __table_args__ = (
        Index("ix_watchlist_site_id_number", "site_id", "id_idx"),
        Index("ix_watchlist_site_phone", "site_id", "phone_idx"),
        Index("ix_watchlist_site_plate", "site_id", "plate"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # person | plate
    name: Mapped[str | None] = mapped_column(String(64))
    id_idx: Mapped[str | None] = mapped_column(String(40))  # crypto.blind_index("id", …)
    phone_idx: Mapped[str | None] = mapped_column(String(40))  # crypto.blind_index("phone", …)
    plate: Mapped[str | None] = mapped_column(String(16))  # normalised
    hint: Mapped[str | None] = mapped_column(String(40))  # masked ID/phone for screens
    reason: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
