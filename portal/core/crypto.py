"""Field encryption and blind indexes derived from one data key."""

import base64
import hashlib
import hmac
import os
import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_state: dict[str, Any] = {"enc": None, "idx": None}  # enc: AESGCM, idx: bytes, once configured
_VERSION = b"\x01"


class KeyMissing(RuntimeError):
    """Raised when encrypted data is touched before a data key is configured."""


def configure(data_key):
    """Derive the encryption and index keys from the configured data key."""
    raw = data_key.encode("utf-8") if isinstance(data_key, str) else data_key
    try:
        raw = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)) if len(raw) >= 43 else raw
    except ValueError:  # not base64: the text itself is the key material
        pass
    if len(raw) < 16:
        raise ValueError("DATA_KEY must hold at least 16 bytes of key material")

    def derive(info):
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)

    _state["enc"] = AESGCM(derive(b"portal field encryption v1"))
    _state["idx"] = derive(b"portal blind index v1")


def _aead():
    if _state["enc"] is None:
        raise KeyMissing("data key not configured")
    return _state["enc"]


def encrypt(plain: bytes) -> bytes:
    """AES-GCM with a random nonce; the output carries a format version byte."""
    nonce = os.urandom(12)
    return _VERSION + nonce + _aead().encrypt(nonce, plain, None)


def decrypt(blob: bytes) -> bytes:
    """Inverse of encrypt."""
    if not blob or blob[:1] != _VERSION:
        raise ValueError("unknown ciphertext format")
    return _aead().decrypt(blob[1:13], blob[13:], None)


def blind_index(kind: str, value: str) -> str:
    """Keyed hash for equality lookups on encrypted values (phones, ID numbers, plates)."""
    if _state["idx"] is None:
        raise KeyMissing("data key not configured")
    msg = f"{kind}:{value}".encode()
    return hmac.new(_state["idx"], msg, hashlib.sha256).hexdigest()[:40]


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy bearer token; such tokens need no slow KDF."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(prefix: str, nbytes: int = 32) -> str:
    """Random bearer token with a prefix that says what it is."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"
