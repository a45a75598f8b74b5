"""The compact pass token: small enough for OSDP card data and QR version 4, and unforgeable."""

import base64
import io
import time

import pytest
import qrcode
import zxingcpp
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from portal.passes import compact, qrtext
from portal.passes.codes import new_otp_secret


class FakePass:
    """Just what make_compact reads."""

    def __init__(self, id=42, site_id=7, otp_secret=None):
        self.id, self.site_id, self.otp_secret = id, site_id, otp_secret or new_otp_secret()


def lookup_for(*passes):
    table = {p.id: (p.site_id, p.otp_secret) for p in passes}
    return table.get


def test_fits_osdp_card_data_and_qr_version_4_at_m():
    p = FakePass(id=4_000_000_000, site_id=65_535)
    raw, text = compact.make_compact(p, time.time())
    assert len(raw) <= 64 and len(text.encode("ascii")) <= 64
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")  # QR alphanumeric set
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    assert qr.version <= 4
    # The full signed token does not fit there: that is why the compact one exists.
    assert qrtext.TEXT_LEN > 90


def test_round_trip_through_a_rendered_and_decoded_qr():
    p = FakePass()
    now = time.time()
    text = compact.compact_qr_text(p, now)
    buf = io.BytesIO()
    qrcode.make(text, error_correction=ERROR_CORRECT_M, box_size=4).save(buf, format="PNG")
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(buf.getvalue())))
    assert [r.text for r in found] == [text]
    claims = compact.verify_compact(found[0].text, lookup_for(p), now, expected_site=p.site_id)
    assert (claims.site_id, claims.pass_id) == (p.site_id, p.id)


def test_raw_bytes_and_lower_case_text_verify_too():
    p = FakePass()
    now = time.time()
    raw, text = compact.make_compact(p, now)
    assert compact.verify_compact(raw, lookup_for(p), now).pass_id == p.id
    assert compact.verify_compact(text.lower().encode(), lookup_for(p), now).pass_id == p.id


def _flip(raw, index):
    out = bytearray(raw)
    out[index] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("index", [1, 3, 7, 10, 11, 26])
def test_tampered_token_is_refused(index):
    p, other = FakePass(id=42), FakePass(id=43)
    now = time.time()
    raw, _ = compact.make_compact(p, now)
    with pytest.raises(qrtext.TokenError) as err:
        compact.verify_compact(_flip(raw, index), lookup_for(p, other), now)
    assert err.value.reason in ("bad_signature", "unknown")


def test_token_made_with_another_pass_secret_is_refused():
    p = FakePass()
    forged = FakePass(id=p.id, site_id=p.site_id)  # same ids, attacker's own secret
    now = time.time()
    _, text = compact.make_compact(forged, now)
    with pytest.raises(qrtext.TokenError) as err:
        compact.verify_compact(text, lookup_for(p), now)
    assert err.value.reason == "bad_signature"


def test_old_screenshot_is_stale_and_future_step_refused():
    p = FakePass()
    now = time.time()
    _, old = compact.make_compact(p, now - 5 * qrtext.STEP_SECONDS)
    _, future = compact.make_compact(p, now + 5 * qrtext.STEP_SECONDS)
    for text, reason in ((old, "stale"), (future, "bad_signature")):
        with pytest.raises(qrtext.TokenError) as err:
            compact.verify_compact(text, lookup_for(p), now)
        assert err.value.reason == reason


def test_unknown_pass_wrong_site_and_garbage():
    p = FakePass()
    now = time.time()
    _, text = compact.make_compact(p, now)
    with pytest.raises(qrtext.TokenError) as err:
        compact.verify_compact(text, lookup_for(), now)
    assert err.value.reason == "unknown"
    with pytest.raises(qrtext.TokenError) as err:
        compact.verify_compact(text, lookup_for(p), now, expected_site=p.site_id + 1)
    assert err.value.reason == "wrong_site"
    for junk in ("", "A" * 44, "0" * 44, "Ａ" * 44, b"\x81" * 26, b"\xff" * 27, "-" + text[1:], None, 12):
        with pytest.raises(qrtext.TokenError):
            compact.verify_compact(junk, lookup_for(p), now)


def test_fast_base32_matches_the_standard_decoder():
    # The full token's decoder was sped up for the edge; it must agree with base64.b32decode.
    import os

    for _ in range(200):
        raw = bytes([qrtext.VERSION]) + os.urandom(qrtext.RAW_LEN - 1)
        text = base64.b32encode(raw).decode().rstrip("=")
        assert qrtext.decode_raw(text) == raw
        assert qrtext.decode_raw(text.lower()) == raw
    with pytest.raises(qrtext.TokenError):
        qrtext.decode_raw(text[:-1] + "1")
    with pytest.raises(qrtext.TokenError):
        qrtext.decode_raw("+" + text[1:])
