"""Column types shared by all models."""
import json

from sqlalchemy.types import JSON, DateTime, LargeBinary, String, TypeDecorator

from portal.core import crypto
from portal.core.timeutil import UTC, as_utc


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC; SQLite keeps no offsets."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class EncryptedText(TypeDecorator):
    """Text encrypted at rest with the data key (AES-GCM)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return crypto.encrypt(value.encode("utf-8"))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return crypto.decrypt(bytes(value)).decode("utf-8")


class EncryptedJSON(TypeDecorator):
    """JSON document encrypted at rest (device options with secrets)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return crypto.encrypt(json.dumps(value, sort_keys=True).encode("utf-8"))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return json.loads(crypto.decrypt(bytes(value)))


__all__ = ["UTCDateTime", "EncryptedText", "EncryptedJSON", "JSON", "String"]
