"""The QR and keypad code a visitor shows: signed, rotating, decodable, and checked independently."""

import base64
import io
import subprocess
import time

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from portal.core import timeutil
from portal.extensions import db
from portal.passes import keys, operations, qr, qrtext
from portal.passes.models import SigningKey


def _decode_png(data):
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    assert len(results) == 1
    return results[0].text


def _page_token(client, world, p):
    return p.link_token


def test_qr_png_decodes_and_verifies_with_site_public_key(client, world):
    p = world.make_pass()
    resp = client.get(f"/p/{p.link_token}/qr.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    text = _decode_png(resp.data)
    # Verify offline with nothing but the published key set.
    jwks = client.get(f"/api/v1/sites/{world.site.slug}/keys").get_json()
    pub = {int(k["kid"]): (world.site.id, qrtext.load_public(base64.urlsafe_b64decode(k["x"] + "=="))) for k in jwks["keys"]}
    claims = qrtext.verify(text, pub, time.time(), expected_site=world.site.id)
    assert claims.pass_id == p.id and claims.site_id == world.site.id
    assert qr.version(text) <= 7
    assert text == client.get(f"/p/{p.link_token}/live").get_json()["qr"]


def test_tampered_qr_is_rejected(world):
    p = world.make_pass()
    from portal.passes import codes

    text = codes.qr_text(p)
    raw = bytearray(qrtext.decode_raw(text))
    for pos in (4, 10, 30, 80):  # header fields and signature bytes
        bad = raw.copy()
        bad[pos] ^= 0x01
        forged = base64.b32encode(bytes(bad)).decode().rstrip("=")
        with pytest.raises(qrtext.TokenError) as err:
            qrtext.verify(forged, keys.public_keys(), time.time())
        assert err.value.reason == "bad_signature"


def test_qr_signed_by_unknown_key_is_rejected(world):
    p = world.make_pass()
    rogue = Ed25519PrivateKey.generate()
    kid = keys.active_key_row(world.site.id).id
    now = time.time()
    forged = qrtext.sign(rogue, kid, world.site.id, p.id, now - 60, now + 3600, qrtext.current_step(now))
    with pytest.raises(qrtext.TokenError) as err:
        qrtext.verify(forged, keys.public_keys(), now)
    assert err.value.reason == "bad_signature"
    unknown_kid = qrtext.sign(rogue, 999, world.site.id, p.id, now - 60, now + 3600, qrtext.current_step(now))
    with pytest.raises(qrtext.TokenError):
        qrtext.verify(unknown_kid, keys.public_keys(), now)


def test_screenshot_goes_stale_but_pass_stays_valid(world):
    p = world.make_pass()
    from portal.passes import codes

    now = time.time()
    old = codes.qr_text(p, now - 120)
    with pytest.raises(qrtext.TokenError) as err:
        qrtext.verify(old, keys.public_keys(), now)
    assert err.value.reason == "stale"
    assert qrtext.verify(codes.qr_text(p, now), keys.public_keys(), now).pass_id == p.id


def test_key_rotation_keeps_old_tokens_valid_until_retired(world):
    p = world.make_pass()
    from portal.passes import codes

    before = codes.qr_text(p)
    old_kid = keys.active_key_row(world.site.id).id
    operations.rotate_keys(world.site)
    db.session.commit()
    after = codes.qr_text(p)
    assert qrtext.decode_raw(after)[1:3] != qrtext.decode_raw(before)[1:3]
    now = time.time()
    assert qrtext.verify(before, keys.public_keys(), now).pass_id == p.id
    assert qrtext.verify(after, keys.public_keys(), now).pass_id == p.id
    operations.retire_key(old_kid)
    db.session.commit()
    with pytest.raises(qrtext.TokenError):
        qrtext.verify(before, keys.public_keys(), now)
    assert db.session.get(SigningKey, old_kid).status == "retired"


def test_wrong_site_token(world):
    p = world.make_pass()
    from portal.passes import codes

    with pytest.raises(qrtext.TokenError) as err:
        qrtext.verify(codes.qr_text(p), keys.public_keys(), time.time(), expected_site=world.other_site.id)
    assert err.value.reason == "wrong_site"


def test_keypad_code_matches_oathtool(client, world, monkeypatch):
    p = world.make_pass()
    now = int(time.time())
    monkeypatch.setattr(timeutil, "now_ts", lambda: now)  # the page and oathtool read the same step
    live = client.get(f"/p/{p.link_token}/live").get_json()
    out = subprocess.run(
        ["oathtool", "--totp", "-b", "-d", "6", "-s", "30s", "-N", f"@{now}", p.otp_secret],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert live["code"] == p.keypad_no + out
    assert len(live["code"]) == 11 and live["code"].isdigit()
    assert live["refresh_at"] > now


def test_keys_cli_rotate_and_retire(app, world):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["keys", "rotate", "--site", "sunny"])
    assert out.exit_code == 0 and "signs for sunny" in out.output
    listing = runner.invoke(args=["keys", "list", "--site", "sunny"]).output.splitlines()
    assert [line.split("\t")[1] for line in listing] == ["verify", "active"]
    kid = int(listing[0].split("\t")[0])
    assert runner.invoke(args=["keys", "retire", str(kid)]).exit_code == 0
    assert runner.invoke(args=["keys", "list", "--site", "nope"]).exit_code != 0


def test_compact_sites_show_the_compact_qr(client, world):
    from portal.passes import compact

    world.site.settings = {"qr_format": "compact"}
    db.session.commit()
    p = world.make_pass()
    live = client.get(f"/p/{p.link_token}/live").get_json()
    text = _decode_png(client.get(f"/p/{p.link_token}/qr.png").data)
    assert text == live["qr"] and len(text) == 44
    assert qr.version(text) <= 4
    claims = compact.verify_compact(text, lambda pid: (world.site.id, p.otp_secret), time.time(), world.site.id)
    assert claims is not None
