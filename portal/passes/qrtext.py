"""The signed QR token: compact binary claims plus an Ed25519 signature, in base32.

Layout (big-endian, 23 bytes before the 64-byte signature):
  version u8 | key id u16 | site id u32 | pass id u32 | valid_from u32 | valid_until u32 | step u32
Base32 keeps the text inside the QR alphanumeric set, so 87 bytes become 140
characters and fit QR version 7 at error correction M.
"""

import base64
import re
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

VERSION = 1
STEP_SECONDS = 30
_HEAD = struct.Struct(">BHIIIII")
SIG_LEN = 64
RAW_LEN = _HEAD.size + SIG_LEN
TEXT_LEN = 140  # len(base32(87 bytes)) without padding
_B32_TEXT = re.compile(r"[A-Z2-7]+")
_B32_DIGITS = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")
# A stale screenshot is refused once the shown step is this many steps old.
STEP_TOLERANCE = 1


class TokenError(ValueError):
    """Why a token was refused; reason is a gate reason code."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    """What a verified token says."""

    kid: int
    site_id: int
    pass_id: int
    valid_from: int
    valid_until: int
    step: int


def current_step(now_ts):
    """The 30-second step a Unix time falls in."""
    return int(now_ts) // STEP_SECONDS


def sign(private_key: Ed25519PrivateKey, kid, site_id, pass_id, valid_from, valid_until, step):
    """Build the token text for one time step."""
    head = _HEAD.pack(VERSION, kid, site_id, pass_id, int(valid_from), int(valid_until), step)
    raw = head + private_key.sign(head)
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def b32_fixed(text, text_len, raw_len, version):
    """Unpadded canonical base32 of exactly raw_len bytes starting with the version byte, or TokenError('bad_signature')."""
    if not isinstance(text, str):
        raise TokenError("bad_signature")
    text = text.strip().upper()
    if len(text) != text_len or not _B32_TEXT.fullmatch(text):
        raise TokenError("bad_signature")
    # base64.b32decode is pure Python; one int() over base-32 digits does the same in a fraction of its time.
    value, unused = int(text.translate(_B32_DIGITS), 32), text_len * 5 - raw_len * 8
    if value & ((1 << unused) - 1):
        # The last character's low bits carry no data and must be zero: otherwise 2**unused spellings
        # of one token would each verify (and each be a different text to caches and logs).
        raise TokenError("bad_signature")
    raw = (value >> unused).to_bytes(raw_len, "big")
    if raw[0] != version:
        raise TokenError("bad_signature")
    return raw


def decode_raw(text):
    """Base32 text to raw bytes; raises TokenError('bad_signature') on any malformation."""
    return b32_fixed(text, TEXT_LEN, RAW_LEN, VERSION)


def verify(text, public_keys, now_ts, expected_site=None):
    """Check signature first, then key/site/time; returns Claims or raises TokenError.

    public_keys maps key id -> (site id, VerifyKey). Nothing but the key id
    is read before the signature has been checked.
    """
    return check_claims(signed_claims(text, public_keys), now_ts, expected_site)


def signed_claims(text, public_keys):
    """The claims of a token whose signature (by a key of the claimed site) checks; no clock involved."""
    raw = decode_raw(text)
    head, sig = raw[: _HEAD.size], raw[_HEAD.size :]
    kid = int.from_bytes(head[1:3], "big")
    entry = public_keys.get(kid)
    if entry is None:
        raise TokenError("bad_signature")
    key_site, public_key = entry
    try:
        public_key.verify(head, sig)
    except BadSignatureError:
        raise TokenError("bad_signature") from None
    _, kid, site_id, pass_id, vfrom, vuntil, step = _HEAD.unpack(head)
    if site_id != key_site:
        # A key only vouches for its own site.
        raise TokenError("bad_signature")
    return Claims(kid, site_id, pass_id, vfrom, vuntil, step)


def check_claims(claims, now_ts, expected_site=None):
    """Site and time checks of signed claims; returns them or raises TokenError."""
    site_id, vfrom, vuntil, step = claims.site_id, claims.valid_from, claims.valid_until, claims.step
    if expected_site is not None and site_id != expected_site:
        raise TokenError("wrong_site")
    now_step = current_step(now_ts)
    if step > now_step + STEP_TOLERANCE:
        raise TokenError("bad_signature")  # from the future: a forged clock or a broken signer
    if step < now_step - STEP_TOLERANCE:
        raise TokenError("stale")
    if now_ts < vfrom:
        raise TokenError("not_yet_valid")
    if now_ts >= vuntil:
        raise TokenError("expired")
    return claims


def load_public(raw: bytes) -> VerifyKey:
    """Public key object from its 32 raw bytes.

    Verification runs in libsodium (PyNaCl), faster than OpenSSL on the gate's hardware, and it is the
    costliest step of a QR decision (docs/gate.md, "Performance"). Signing stays with cryptography.
    """
    return VerifyKey(bytes(raw))
