"""QR decisions through POST /api/v1/gate/verify, from a real qr.png to every QR reason code."""

import base64
import time
from datetime import timedelta

import pytest
from gate_support import events, freeze, qr_from_png, reason, verify

from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.passes import codes, keys, qrtext
from portal.passes.operations import revoke_pass


def test_real_qr_png_opens_once_and_is_recorded(client, world):
    p = world.make_pass(max_entries=1, floors=[12])
    dev, header = world.device()
    text = qr_from_png(client, p)
    status, data = verify(client, header, qr=text)
    assert status == 200
    assert data["decision"] == "grant" and data["reason"] == "ok"
    assert data["pass_id"] == p.id and data["floors"] == [12]
    assert data["message"]["en"] and data["message"]["zh"] and data["display"]
    [event] = events(pass_id=p.id)
    assert (event.site_id, event.gate_id, event.device_id, event.method) == (world.site.id, world.gate.id, dev.id, "qr")
    assert (event.decision, event.reason, event.source) == ("grant", "ok", "api")
    assert event.latency_ms is not None and event.latency_ms >= 0
    # The same single-use pass a second time: no entries left.
    assert reason(client, header, qr=text) == ("deny", "used_up")
    assert [e.reason for e in events(pass_id=p.id)] == ["ok", "used_up"]


def _flip(text, index):
    raw = bytearray(base64.b32decode(text + "=" * (-len(text) % 8)))
    raw[index] ^= 0x01
    return base64.b32encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: _flip(t, 10), id="flipped-claim-byte"),
        pytest.param(lambda t: _flip(t, 60), id="flipped-signature-byte"),
        pytest.param(lambda t: t[:-8], id="truncated"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: "Z" * 10_000, id="10kB-garbage"),
        pytest.param(lambda t: "".join(chr(c) for c in range(1, 2001)) * 5, id="10kB-binary-garbage"),
        pytest.param(lambda t: t.lower() + "A", id="one-char-too-long"),
    ],
)
def test_damaged_tokens_are_bad_signature(client, world, mangle):
    p = world.make_pass()
    _, header = world.device()
    text = codes.qr_text(p)
    assert reason(client, header, qr=mangle(text)) == ("deny", "bad_signature")
    assert [e.reason for e in events(method="qr")] == ["bad_signature"]


def test_token_for_another_site_is_wrong_site(client, world):
    p = world.make_pass()
    _, other_header = world.device("other-gate", gates=[], site=world.other_site)
    assert reason(client, other_header, qr=codes.qr_text(p)) == ("deny", "wrong_site")


def test_token_signed_with_unknown_key_is_bad_signature(client, world):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = world.make_pass()
    _, header = world.device()
    kid, _ = keys.signer(world.site.id)
    forged = qrtext.sign(Ed25519PrivateKey.generate(), kid, world.site.id, p.id, 0, 2**32 - 1, qrtext.current_step(time.time()))
    assert reason(client, header, qr=forged) == ("deny", "bad_signature")


def test_signed_token_for_missing_pass_is_unknown(client, world):
    _, header = world.device()
    kid, private = keys.signer(world.site.id)
    now = time.time()
    text = qrtext.sign(private, kid, world.site.id, 999_999, now - 60, now + 3600, qrtext.current_step(now))
    assert reason(client, header, qr=text) == ("deny", "unknown")


def test_old_screenshot_is_stale(client, world, monkeypatch):
    p = world.make_pass()
    _, header = world.device()
    text = codes.qr_text(p)
    freeze(monkeypatch, utcnow() + timedelta(seconds=3 * qrtext.STEP_SECONDS))
    assert reason(client, header, qr=text) == ("deny", "stale")


def test_window_revoked_and_gate(client, world, monkeypatch):
    now = utcnow()
    _, header = world.device()
    early = world.make_pass(valid_from=now + timedelta(hours=1), valid_until=now + timedelta(hours=3))
    assert reason(client, header, qr=codes.qr_text(early)) == ("deny", "not_yet_valid")
    late = world.make_pass(valid_from=now - timedelta(hours=2), valid_until=now + timedelta(minutes=10))
    # Shown a second before the end, scanned a second after it.
    text = codes.qr_text(late, late.valid_until.timestamp() - 1)
    freeze(monkeypatch, late.valid_until + timedelta(seconds=1))
    assert reason(client, header, qr=text) == ("deny", "expired")
    monkeypatch.undo()
    gone = world.make_pass()
    revoke_pass(gone, reason="test")
    db.session.commit()
    assert reason(client, header, qr=codes.qr_text(gone)) == ("deny", "revoked")
    car_only = world.make_pass(gate_ids=[world.car_gate.id])
    assert reason(client, header, qr=codes.qr_text(car_only)) == ("deny", "wrong_gate")
    _, car_header = world.device("barrier-1", kind="barrier", gates=[world.car_gate])
    assert reason(client, car_header, qr=codes.qr_text(car_only)) == ("grant", "ok")


def test_anti_passback_needs_an_out_before_the_next_in(client, world):
    p = world.make_pass(max_entries=None)
    _, header = world.device()
    text = codes.qr_text(p)
    assert reason(client, header, qr=text, direction="in") == ("grant", "ok")
    assert reason(client, header, qr=text, direction="in") == ("deny", "anti_passback")
    assert reason(client, header, qr=text, direction="out") == ("grant", "ok")
    assert reason(client, header, qr=text, direction="in") == ("grant", "ok")
    db.session.refresh(p)
    assert p.uses == 2 and p.last_direction == "in"


def test_exit_does_not_consume_and_is_not_trapped(client, world):
    p = world.make_pass(max_entries=1)
    _, header = world.device()
    text = codes.qr_text(p)
    assert reason(client, header, qr=text, direction="in") == ("grant", "ok")
    assert reason(client, header, qr=text, direction="out") == ("grant", "ok")
    assert reason(client, header, qr=text, direction="in") == ("deny", "used_up")
    db.session.refresh(p)
    assert p.uses == 1
    assert [e.direction for e in events(pass_id=p.id)] == ["in", "out", "in"]
