"""Wiegand H10301 26-bit and 34-bit frames, and card numbers for passes."""

import pytest

from access_bridge import wiegand


def test_h10301_matches_the_documented_frame():
    assert wiegand.encode_h10301(7, 12345) == "10000011100110000001110011"
    assert wiegand.decode_h10301("10000011100110000001110011") == (7, 12345)


@pytest.mark.parametrize(("facility", "card"), [(0, 0), (255, 65535), (1, 2), (128, 32768)])
def test_h10301_round_trips_with_valid_parity(facility, card):
    bits = wiegand.encode_h10301(facility, card)
    assert len(bits) == 26
    assert bits[:13].count("1") % 2 == 0  # even parity over the first half, parity bit included
    assert bits[13:].count("1") % 2 == 1  # odd over the second half
    assert wiegand.decode_h10301(bits) == (facility, card)


def test_flipped_bits_and_bad_input_are_refused():
    good = wiegand.encode_h10301(7, 12345)
    for i in (0, 5, 20, 25):
        flipped = good[:i] + ("1" if good[i] == "0" else "0") + good[i + 1 :]
        with pytest.raises(ValueError, match="parity"):
            wiegand.decode_h10301(flipped)
    with pytest.raises(ValueError):
        wiegand.decode_h10301(good[:-1])
    with pytest.raises(ValueError):
        wiegand.encode_h10301(256, 1)
    with pytest.raises(ValueError):
        wiegand.encode_h10301(1, 65536)


def test_34_bit_frames_carry_32_bits():
    for number in (0, 1, 0xDEADBEEF, 0xFFFFFFFF):
        bits = wiegand.encode_34(number)
        assert len(bits) == 34 and wiegand.decode_34(bits) == number
    assert wiegand.encode_34(0) == "0" + "0" * 32 + "1"
    with pytest.raises(ValueError):
        wiegand.encode_34(1 << 32)


def test_card_numbers_fit_their_bits_and_match_what_readers_send():
    numbers = {wiegand.card_number("pass-secret-1", 24, attempt) for attempt in range(50)}
    assert len(numbers) == 50 and all(0 < n < 1 << 24 for n in numbers)
    assert wiegand.card_number("pass-secret-1", 24) == wiegand.card_number(b"pass-secret-1", 24)
    assert wiegand.card_number("pass-secret-1", 24) != wiegand.card_number("pass-secret-2", 24)
    big = wiegand.card_number("s", 32)
    assert 0 < big < 1 << 32
    # A reader with a 24-bit Wiegand output sends the low 24 bits of the numeric QR text.
    n = wiegand.card_number("pass-secret-1", 24)
    assert wiegand.low_bits(str(n), 24) == n
    assert wiegand.low_bits(str((5 << 24) + n), 24) == n
    facility, card = wiegand.split_24(n)
    assert wiegand.decode_h10301(wiegand.encode_h10301(facility, card)) == (n >> 16, n & 0xFFFF)
