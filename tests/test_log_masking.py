"""The app's own log lines never carry a whole pass link: each would give its reader the live QR."""

import logging

from portal.core.redact import mask


def test_csrf_failure_on_a_pass_link_logs_the_path_masked(client, world, caplog):
    p = world.make_pass()
    token = p.link_token
    with caplog.at_level(logging.WARNING, logger="portal.core.errors"):
        resp = client.post(f"/p/{token}/face/consent", data={})
    assert resp.status_code == 403
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "csrf failure" in logged
    assert token not in logged and f"/p/{token[:4]}…/face/consent" in logged


def test_mask_keeps_short_words_and_cuts_secrets():
    assert mask("/desk/exceptions/12") == "/desk/exceptions/12"
    assert mask("/p/AbCdEfGhIjKlMnOpQrStUv/live") == "/p/AbCd…/live"
    assert mask(None) == ""
