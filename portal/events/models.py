"""Access events: the source for the desk, the reports and the bridge's events."""

from datetime import datetime

from sqlalchemy import JSON, Float, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime
from portal.extensions import db

# One vocabulary everywhere (contracts.md): the gate API, device events, the desk, reports.
REASONS = (
    "ok",
    "expired",
    "not_yet_valid",
    "revoked",
    "used_up",
    "outside_schedule",
    "wrong_site",
    "wrong_gate",
    "bad_signature",
    "unknown",
    "replayed",
    "throttled",
    "watchlisted",
    "anti_passback",
    "not_approved",
    "stale",
    "error",
    "keypad_off",
    "remote_open",
    "walk_in",
)
METHODS = ("qr", "code", "plate", "face", "card", "pin", "remote", "walk_in")
SOURCES = ("api", "bridge", "device", "desk")


class AccessEvent(db.Model):
    """One attempt: who, where, how, what was decided and why.

    An append-only log with no foreign keys: its ids name rows (sites, gates, devices, passes,
    users) that are never deleted, only retired or anonymised, so a constraint would protect
    nothing, while on PostgreSQL it costs every inserted event a lookup and a row lock on each
    parent (about half the insert; the gate writes an event per scan).
    """

    __tablename__ = "access_events"
    __table_args__ = (
        # Device events are idempotent on (device, serial): a replayed batch adds nothing.
        UniqueConstraint("device_id", "device_serial"),
        Index("ix_access_events_site_at", "site_id", "at"),
        Index("ix_access_events_pass", "pass_id"),
        # The desk's look-up by plate; partial, so the many events without a plate cost the index nothing.
        Index(
            "ix_access_events_site_plate",
            "site_id",
            "plate",
            "at",
            postgresql_where=text("plate IS NOT NULL"),
            sqlite_where=text("plate IS NOT NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    site_id: Mapped[int | None] = mapped_column(Integer)
    gate_id: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[int | None] = mapped_column(Integer)
    device_serial: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(12), nullable=False)
    pass_id: Mapped[int | None] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(8), nullable=False)  # grant | deny
    reason: Mapped[str] = mapped_column(String(24), nullable=False)
    direction: Mapped[str | None] = mapped_column(String(4))  # in | out
    latency_ms: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(8), default="api", nullable=False)
    # Who approved a walk-in or opened remotely: host | guard (reports use this).
    approved_by: Mapped[str | None] = mapped_column(String(8))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    plate: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    pass_ = relationship("Pass", primaryjoin="foreign(AccessEvent.pass_id) == Pass.id", viewonly=True)
    gate = relationship("Gate", primaryjoin="foreign(AccessEvent.gate_id) == Gate.id", viewonly=True)
