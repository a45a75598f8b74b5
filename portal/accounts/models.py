"""Users, residencies, server-side sessions and API tokens."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped
from portal.core.timeutil import utcnow
from portal.core.types import EncryptedText, UTCDateTime
from portal.extensions import db

ROLES = ("resident", "guard", "manager", "admin")
STAFF_ROLES = ("guard", "manager", "admin")
MANAGER_ROLES = ("manager", "admin")
RELATIONS = ("owner", "tenant", "family")


class User(Timestamped, db.Model):
    """A person who logs in: resident or staff."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="resident")
    # Staff belong to one site; admins (site_id NULL) see every site.
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    locale: Mapped[str] = mapped_column(String(8), default="zh", nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    site = relationship("Site")
    residencies = relationship("Residency", back_populates="user", foreign_keys="Residency.user_id")

    @property
    def is_staff(self):
        return self.role in STAFF_ROLES

    @property
    def is_manager(self):
        """A manager of a site or an administrator: who decides, configures and reads reports."""
        return self.role in MANAGER_ROLES

    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return self.active

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        # flask-login stores the server-side session id, not the user id (see sessions.py).
        from flask import g

        return getattr(g, "session_sid", None)

    def current_residencies(self, now=None):
        """Residencies active now."""
        now = now or utcnow()
        return [r for r in self.residencies if r.is_active(now)]


class Residency(Timestamped, db.Model):
    """A resident's link to a unit for a period."""

    __tablename__ = "residencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    relation: Mapped[str] = mapped_column(String(16), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user = relationship("User", back_populates="residencies", foreign_keys=[user_id])
    unit = relationship("Unit")

    def is_active(self, now=None):
        now = now or utcnow()
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)


class UserSession(db.Model):
    """A server-side login session, so logout and disablement end it at once."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    ip: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user = relationship("User")


class ApiToken(db.Model):
    """A bearer token, stored hashed: a user's API token or a device's."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # "user" | "device"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(80))
    scopes: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user = relationship("User")
    device = relationship("Device")


class RecoveryCode(db.Model):
    """A staff member's single-use recovery code, stored hashed; used in place of an authenticator code."""

    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
