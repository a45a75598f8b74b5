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


class EncryptedBytes(TypeDecorator):
    """Binary content (complaint photos) encrypted at rest with the data key (AES-GCM)."""

    impl = LargeBinary
    cache_ok = True

    def _dump(self, value):
        return bytes(value)

    def _load(self, raw):
        return raw

    def process_bind_param(self, value, dialect):
        return None if value is None else crypto.encrypt(self._dump(value))

    def process_result_value(self, value, dialect):
        return None if value is None else self._load(crypto.decrypt(bytes(value)))


class EncryptedText(EncryptedBytes):
    """Text encrypted at rest with the data key (AES-GCM)."""

    cache_ok = True

    def _dump(self, value):
        return value.encode("utf-8")

    def _load(self, raw):
        return raw.decode("utf-8")


class EncryptedJSON(EncryptedBytes):
    """JSON document encrypted at rest (device options with secrets)."""

    cache_ok = True

    def _dump(self, value):
        return json.dumps(value, sort_keys=True).encode("utf-8")

    def _load(self, raw):
        return json.loads(raw)


__all__ = ["JSON", "EncryptedBytes", "EncryptedJSON", "EncryptedText", "String", "UTCDateTime"]
