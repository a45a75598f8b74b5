"""Wiegand card numbers: H10301 26-bit and 34-bit frames with parity, and card numbers for passes.

Many QR readers with a Wiegand output send only the low 24 or 32 bits of a numeric QR text, so a pass meant
for them needs a numeric card number that fits those bits and is unique among live passes (devices.md §4).
"""

from __future__ import annotations

import hashlib

H10301_BITS = 26
WIEGAND34_BITS = 34


def _ones(bits: str) -> int:
    return bits.count("1")


def _frame(data: str) -> str:
    """Wrap data bits with a leading even-parity bit (first half) and a trailing odd-parity bit (second half)."""
    half = len(data) // 2
    even = "1" if _ones(data[:half]) % 2 else "0"
    odd = "0" if _ones(data[half:]) % 2 else "1"
    return even + data + odd


def _unframe(bits: str, size: int) -> str:
    """Check length, alphabet and both parity bits; return the data bits."""
    if len(bits) != size or set(bits) - {"0", "1"}:
        raise ValueError(f"expected {size} binary digits")
    data = bits[1:-1]
    if _frame(data) != bits:
        raise ValueError("parity error")
    return data


def encode_h10301(facility: int, card: int) -> str:
    """H10301 26-bit frame for facility 0–255 and card 0–65535, as a string of bits."""
    if not 0 <= facility <= 0xFF:
        raise ValueError("facility code must be 0–255")
    if not 0 <= card <= 0xFFFF:
        raise ValueError("card number must be 0–65535")
    return _frame(f"{facility:08b}{card:016b}")


def decode_h10301(bits: str) -> tuple[int, int]:
    """(facility, card) from an H10301 26-bit frame; ValueError on a bad length or parity."""
    data = _unframe(bits, H10301_BITS)
    return int(data[:8], 2), int(data[8:], 2)


def encode_34(number: int) -> str:
    """34-bit frame carrying a 32-bit number (even parity over the high 16 bits, odd over the low 16)."""
    if not 0 <= number <= 0xFFFFFFFF:
        raise ValueError("34-bit frames carry 0–4294967295")
    return _frame(f"{number:032b}")


def decode_34(bits: str) -> int:
    """The 32-bit number in a 34-bit frame; ValueError on a bad length or parity."""
    return int(_unframe(bits, WIEGAND34_BITS), 2)


def split_24(number: int) -> tuple[int, int]:
    """A 24-bit number as (facility, card) the way H10301 readers carry it."""
    if not 0 <= number <= 0xFFFFFF:
        raise ValueError("number does not fit 24 bits")
    return number >> 16, number & 0xFFFF


def low_bits(numeric_text: str, bits: int) -> int:
    """What a Wiegand QR reader sends for a numeric QR text: its low 24 or 32 bits."""
    if bits not in (24, 32):
        raise ValueError("bits must be 24 or 32")
    if not numeric_text.isdigit():
        raise ValueError("numeric text expected")
    return int(numeric_text) & ((1 << bits) - 1)


def card_number(seed: str | bytes, bits: int = 24, attempt: int = 0) -> int:
    """A card number in 1..2**bits-1 derived from a pass secret; bump attempt when it collides with a live pass."""
    if bits not in (24, 32):
        raise ValueError("bits must be 24 or 32")
    raw = seed.encode() if isinstance(seed, str) else seed
    digest = hashlib.sha256(raw + b"\x00wiegand\x00" + attempt.to_bytes(4, "big")).digest()
    value = int.from_bytes(digest[:8], "big") % ((1 << bits) - 1)
    # 0 is what a reader sends for an unreadable card, so it is never issued.
    return value + 1
