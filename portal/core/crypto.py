"""Field encryption with a versioned key ring, and blind indexes from one stable index key.

Ciphertexts name the key that made them: b"\\x01" + nonce + sealed is key 1 (the format before key
rotation, and what key 1 still writes), b"\\x02" + key id + nonce + sealed is any other key (the two header
bytes are authenticated). New values use the current key; `flask --app wsgi keys rotate-data-key`
re-encrypts older ones, and a key leaves the ring once `keys status` counts nothing under it.

Blind indexes (equality lookups, the card numbers devices hold) cannot be recomputed for values stored only
hashed, so their key does not rotate with the data key: it is DATA_INDEX_KEY, by default key 1's material.
"""

import base64
import hashlib
import hmac
import os
import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_state: dict[str, Any] = {"ring": {}, "current": None, "idx": None}
_LEGACY = b"\x01"  # key 1, no key id byte
_TAGGED = b"\x02"  # key id byte follows


class KeyMissing(RuntimeError):
    """Raised when encrypted data is touched before a data key is configured, or names a key not in the ring."""


def _material(data_key) -> bytes:
    raw = data_key.encode("utf-8") if isinstance(data_key, str) else data_key
    try:
        raw = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)) if len(raw) >= 43 else raw
    except ValueError:  # not base64: the text itself is the key material
        pass
    if len(raw) < 16:
        raise ValueError("DATA_KEY must hold at least 16 bytes of key material")
    return raw


def _derive(raw: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)


def parse_keys(text: str | None) -> dict[int, str]:
    """DATA_OLD_KEYS text ("1:<key>,3:<key>") as {key id: key}."""
    keys: dict[int, str] = {}
    for part in (text or "").replace("\n", ",").split(","):
        if not part.strip():
            continue
        kid, sep, key = part.strip().partition(":")
        if not sep or not kid.isdigit() or not 1 <= int(kid) <= 255:
            raise ValueError("DATA_OLD_KEYS is a comma-separated list of <key id 1-255>:<key>")
        keys[int(kid)] = key
    return keys


def configure(data_key, key_id: int = 1, old_keys: dict[int, str] | None = None, index_key=None):
    """The ring: data_key is the current key (number key_id), old_keys are still read; the index key is fixed."""
    if not 1 <= key_id <= 255:
        raise ValueError("DATA_KEY_ID must be between 1 and 255")
    materials = {kid: _material(key) for kid, key in (old_keys or {}).items()}
    materials[key_id] = _material(data_key)
    if index_key is None and 1 not in materials:
        raise ValueError("DATA_INDEX_KEY must be set (to key 1, the first DATA_KEY) once key 1 leaves the ring")
    idx_raw = _material(index_key) if index_key is not None else materials[1]
    _state["ring"] = {kid: AESGCM(_derive(raw, b"portal field encryption v1")) for kid, raw in materials.items()}
    _state["current"] = key_id
    _state["idx"] = _derive(idx_raw, b"portal blind index v1")


def current_key_id() -> int:
    """The key new ciphertexts are made with."""
    if _state["current"] is None:
        raise KeyMissing("data key not configured")
    return _state["current"]


def key_ids() -> list[int]:
    """The ids of every key in the ring."""
    return sorted(_state["ring"])


def header(key_id: int) -> bytes:
    """The bytes every ciphertext made with key_id starts with."""
    return _LEGACY if key_id == 1 else _TAGGED + bytes([key_id])


def key_id_of(blob: bytes) -> int:
    """The key a ciphertext was made with."""
    if blob[:1] == _LEGACY:
        return 1
    if blob[:1] == _TAGGED and len(blob) > 1:
        return blob[1]
    raise ValueError("unknown ciphertext format")


def is_ciphertext(blob: bytes) -> bool:
    """True when blob starts like a ciphertext of this module (image files never do)."""
    return blob[:1] in (_LEGACY, _TAGGED)


def _aead(key_id: int) -> AESGCM:
    aead = _state["ring"].get(key_id)
    if aead is None:
        raise KeyMissing("data key not configured" if not _state["ring"] else f"data key {key_id} is not in the ring")
    return aead


def encrypt(plain: bytes) -> bytes:
    """AES-GCM with a random nonce under the current key; the output starts with its key's header."""
    kid = current_key_id()
    head, nonce = header(kid), os.urandom(12)
    return head + nonce + _aead(kid).encrypt(nonce, plain, None if kid == 1 else head)


def decrypt(blob: bytes) -> bytes:
    """Inverse of encrypt, with whichever key of the ring made blob."""
    if not blob:
        raise ValueError("unknown ciphertext format")
    kid = key_id_of(blob)
    head = header(kid)
    body = blob[len(head) :]
    return _aead(kid).decrypt(body[:12], body[12:], None if kid == 1 else head)


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


def site_mac(purpose: str, site_id: int, message: str) -> bytes:
    """HMAC-SHA256 of a message under a key derived for one site and purpose (stickers signed per community)."""
    if _state["idx"] is None:
        raise KeyMissing("data key not configured")
    # The per-site key: HKDF of the data-derived index key, so no new secret to configure and no two sites alike.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"portal {purpose} v1 site {site_id}".encode()).derive(
        _state["idx"]
    )
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
