"""Only the canonical base32 spelling of a QR text verifies: the last character's unused bits are zero."""

import pytest
from gate_support import events, reason

from portal.passes import codes, qrtext

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
UNUSED_BITS = qrtext.TEXT_LEN * 5 - qrtext.RAW_LEN * 8  # 700 - 696 = 4


def _respellings(text):
    """Every other text that differs from text only in the unused low bits of its last character."""
    value = ALPHABET.index(text[-1])
    assert value & ((1 << UNUSED_BITS) - 1) == 0, "the signer writes the canonical spelling"
    return [text[:-1] + ALPHABET[value | low] for low in range(1, 1 << UNUSED_BITS)]


def test_decoder_refuses_nonzero_unused_bits(world):
    text = codes.qr_text(world.make_pass())
    assert qrtext.decode_raw(text)  # the canonical spelling decodes
    for other in _respellings(text):
        with pytest.raises(qrtext.TokenError) as caught:
            qrtext.decode_raw(other)
        assert caught.value.reason == "bad_signature"


def test_gate_denies_a_respelled_qr_and_grants_the_canonical_one(client, world):
    p = world.make_pass()
    _, header = world.device()
    text = codes.qr_text(p)
    # A well-formed body always gets 200 with a decision: the respelling is a bad signature, not a 400.
    for other in _respellings(text):
        assert reason(client, header, qr=other) == ("deny", "bad_signature")
    assert reason(client, header, qr=text) == ("grant", "ok")
    assert reason(client, header, qr=text.lower()) == ("grant", "ok")  # readers may send lower case (same bits)
    assert sorted(e.reason for e in events()) == ["bad_signature"] * ((1 << UNUSED_BITS) - 1) + ["ok", "ok"]
