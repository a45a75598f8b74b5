"""Compact pass token for version-limited QR readers and OSDP's 64-byte card data.

(docs/edge.md, "Which QR a reader needs", gives the layout and says why.)
"""

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portal.core import timeutil
from portal.passes.qrtext import STEP_SECONDS, STEP_TOLERANCE, TokenError, b32_fixed, current_step

VERSION = 0x81  # distinct from the full token's version byte
_HEAD = struct.Struct(">BHII")
MAC_LEN = 16
RAW_LEN = _HEAD.size + MAC_LEN  # 27 bytes: fits OSDP card data (64 bytes) as raw or as text
TEXT_LEN = 44  # base32 of 27 bytes, without padding
_SALT = b"portal compact pass token v1"
MAX_SITE_ID = 0xFFFF


@dataclass(frozen=True)
class CompactClaims:
    """What a verified compact token says; the pass window comes from the verifier's store."""

    site_id: int
    pass_id: int
    step: int


@lru_cache(maxsize=8192)
def pass_key(pass_id: int, otp_secret: str) -> bytes:
    """The per-pass MAC key, derived from the pass's OTP secret with HKDF."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"pass:%d" % pass_id)
    return hkdf.derive(otp_secret.encode("ascii"))


def _mac(key: bytes, head: bytes) -> bytes:
    return hmac.new(key, head, hashlib.sha256).digest()[:MAC_LEN]


def build(site_id, pass_id, otp_secret, step):
    """Raw bytes and text of a compact token for one time step."""
    if not 0 < site_id <= MAX_SITE_ID:
        raise ValueError("site id does not fit the compact token (u16)")
    head = _HEAD.pack(VERSION, site_id, pass_id, step)
    raw = head + _mac(pass_key(pass_id, otp_secret), head)
    return raw, base64.b32encode(raw).decode("ascii").rstrip("=")


def make_compact(pass_, now_ts=None):
    """(raw bytes, base32 text) of a pass's compact token valid now."""
    now_ts = timeutil.now_ts() if now_ts is None else now_ts
    return build(pass_.site_id, pass_.id, pass_.otp_secret, current_step(now_ts))


def compact_qr_text(pass_, now_ts=None):
    """The text to put in a compact QR (sites with settings["qr_format"] == "compact")."""
    return make_compact(pass_, now_ts)[1]


def looks_compact(data) -> bool:
    """True when data has the compact token's size (raw or text); cheap, no checks."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        n = len(data)
        return (n == RAW_LEN and data[0] == VERSION) or n == TEXT_LEN
    return isinstance(data, str) and len(data.strip()) == TEXT_LEN


def decode(data) -> bytes:
    """Raw token bytes from raw bytes or (ASCII bytes of) base32 text; TokenError if malformed."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        if len(data) == RAW_LEN and data[0] == VERSION:
            return data
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError:
            raise TokenError("bad_signature") from None
    return b32_fixed(data, TEXT_LEN, RAW_LEN, VERSION)


def verify_compact(data, secrets_lookup, now_ts, expected_site=None) -> CompactClaims:
    """Check the MAC, then site and step; returns claims or raises TokenError(reason).

    secrets_lookup(pass_id) gives (site id, otp secret) of a pass the verifier knows, or None.
    """
    raw = decode(data)
    head, mac = raw[: _HEAD.size], raw[_HEAD.size :]
    _, site_id, pass_id, step = _HEAD.unpack(head)
    known = secrets_lookup(pass_id)
    if known is None:
        raise TokenError("unknown")
    pass_site, secret = known
    if not hmac.compare_digest(_mac(pass_key(pass_id, secret), head), mac):
        raise TokenError("bad_signature")
    if site_id != pass_site:
        raise TokenError("bad_signature")
    if expected_site is not None and pass_site != expected_site:
        raise TokenError("wrong_site")
    now_step = int(now_ts) // STEP_SECONDS
    if step > now_step + STEP_TOLERANCE:
        raise TokenError("bad_signature")
    if step < now_step - STEP_TOLERANCE:
        raise TokenError("stale")
    return CompactClaims(site_id, pass_id, step)
