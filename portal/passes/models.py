"""Visitor passes and the per-site signing keys of their QR tokens."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped
from portal.core.timeutil import utcnow
from portal.core.types import EncryptedText, UTCDateTime
from portal.extensions import db

KINDS = ("guest", "delivery", "contractor", "service")


class Pass(Timestamped, db.Model):
    """An invitation: who may come, when, through which gates, to which floors."""

    __tablename__ = "passes"
    __table_args__ = (
        UniqueConstraint("link_hash"),
        Index("ix_passes_site_keypad", "site_id", "keypad_no"),
        Index("ix_passes_site_plate", "site_id", "plate"),
        Index("ix_passes_unit_created", "unit_id", "created_at"),
        # The desk's look-up: the last four digits of a phone, and a name's prefix (text_pattern_ops: LIKE 'x%' on PG).
        Index("ix_passes_site_phone_last4", "site_id", "visitor_phone_last4"),
        Index("ix_passes_site_name", "site_id", "visitor_name", postgresql_ops={"visitor_name": "text_pattern_ops"}),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    visitor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    visitor_phone: Mapped[str | None] = mapped_column(EncryptedText)
    visitor_phone_idx: Mapped[str | None] = mapped_column(String(40), index=True)
    # The desk finds a visitor by the last four digits the guard hears; the full number stays encrypted.
    visitor_phone_last4: Mapped[str | None] = mapped_column(String(4))
    visitor_id_number: Mapped[str | None] = mapped_column(EncryptedText)
    visitor_id_idx: Mapped[str | None] = mapped_column(String(40), index=True)
    plate: Mapped[str | None] = mapped_column(String(16))
    company: Mapped[str | None] = mapped_column(String(120))
    work_area: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="Asia/Shanghai")
    max_entries: Mapped[int | None] = mapped_column(Integer)  # NULL: unlimited inside the window
    uses: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # {"days": [1..7 ISO weekday], "start": "HH:MM", "end": "HH:MM"}; end < start crosses midnight.
    schedule: Mapped[dict | None] = mapped_column(JSON)
    gate_ids: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    floors: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    # active | revoked | awaiting_approval (a long contractor pass, refused at the gate until a manager approves)
    status: Mapped[str] = mapped_column(String(20), default="active", nullable=False)
    permit_id: Mapped[int | None] = mapped_column(ForeignKey("permits.id"), index=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(String(200))
    # The visitor's link: only a hash is looked up; the encrypted copy lets us resend it.
    link_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    link_token: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    otp_secret: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    otp_last_step: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    keypad_no: Mapped[str] = mapped_column(String(8), nullable=False)
    last_direction: Mapped[str | None] = mapped_column(String(4))
    notify: Mapped[str] = mapped_column(String(8), default="sms", nullable=False)
    # Set when the visitor's personal data was erased after the retention period.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on every change the bridge must push (desired-state version).
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    site = relationship("Site")
    unit = relationship("Unit")
    host = relationship("User", foreign_keys=[host_id])

    def state(self, now=None):
        """active | revoked | expired | awaiting_approval | used_up | pending (not yet valid)."""
        now = now or utcnow()
        if self.status == "revoked":
            return "revoked"
        if now >= self.valid_until:
            return "expired"
        if self.status == "awaiting_approval":
            return "awaiting_approval"
        if self.max_entries is not None and self.uses >= self.max_entries:
            return "used_up"
        if now < self.valid_from:
            return "pending"
        return "active"


class SigningKey(db.Model):
    """An Ed25519 key of a site; several may verify at once during rotation."""

    __tablename__ = "signing_keys"
    id: Mapped[int] = mapped_column(primary_key=True)  # the key id carried in tokens
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    private_key: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    # active: signs and verifies; verify: verifies only (rotation); retired: neither.
    status: Mapped[str] = mapped_column(String(8), default="active", nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
