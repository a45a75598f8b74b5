"""Device tokens from the device page: issued and shown once with a QR, rotated (old one dead at once), revoked."""

import base64
import io
import re

import zxingcpp
from PIL import Image
from support import csrf, login

from portal.audit.models import AuditEntry
from portal.extensions import db

SCAN = {"code": "000000"}


def _manager(client, world):
    assert login(client, world.manager, world.PASSWORD).status_code == 302


def _issue(client, device, **extra):
    data = {"csrf_token": csrf(client, f"/devices/{device.id}"), "name": "gate reader"} | extra
    resp = client.post(f"/devices/{device.id}/tokens", data=data)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    token = re.search(r'<code class="token" id="token">([^<]+)</code>', html).group(1)
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1))
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [f.text for f in found] == [token]  # the QR carries exactly the token
    return token


def _verify(client, token):
    return client.post("/api/v1/gate/verify", json=SCAN, headers={"Authorization": f"Bearer {token}"}).status_code


def test_issue_rotate_revoke_from_the_page(client, world):
    device, _ = world.device("gate-tokens")
    _manager(client, world)
    first = _issue(client, device)
    assert _verify(client, first) == 200
    page = client.get(f"/devices/{device.id}").get_data(as_text=True)
    assert first not in page and "gate reader" in page  # listed, never shown again
    second = _issue(client, device, rotate="y")
    assert _verify(client, first) == 401 and _verify(client, second) == 200  # rotation stops the old one at once
    row = re.search(r'data-token="(\d+)"', client.get(f"/devices/{device.id}").get_data(as_text=True)).group(1)
    resp = client.post(f"/devices/{device.id}/tokens/{row}/revoke", data={"csrf_token": csrf(client, f"/devices/{device.id}")})
    assert resp.status_code == 302 and _verify(client, second) == 401
    actions = db.session.scalars(db.select(AuditEntry.action).where(AuditEntry.object_id == str(device.id))).all()
    assert actions.count("device.token.issue") == 2 and "device.token.revoke" in actions


def test_token_label_is_checked_in_the_managers_language(client, world):
    device, _ = world.device("gate-label")
    _manager(client, world)
    client.get("/desk/?lang=en")
    data = {"csrf_token": csrf(client, f"/devices/{device.id}"), "name": "x" * 81}
    page = client.post(f"/devices/{device.id}/tokens", data=data, follow_redirects=True).get_data(as_text=True)
    assert "Field cannot be longer than 80 characters." in page
    client.get("/desk/?lang=zh")
    data["csrf_token"] = csrf(client, f"/devices/{device.id}")
    page = client.post(f"/devices/{device.id}/tokens", data=data, follow_redirects=True).get_data(as_text=True)
    assert "80" in page and "Field cannot be longer" not in page


def test_tokens_page_roles(client, world):
    from portal.accounts.operations import create_user

    device, _ = world.device("gate-roles")
    other = create_user("other-mgr", world.PASSWORD, "manager", "Other", site=world.other_site)
    db.session.commit()
    for user in (world.guard, world.r1):
        assert login(client, user, world.PASSWORD).status_code == 302
        token = csrf(client, "/my/passes/new" if user is world.r1 else "/devices/")
        assert client.post(f"/devices/{device.id}/tokens", data={"csrf_token": token}).status_code == 403
        assert client.post(f"/devices/{device.id}/tokens/1/revoke", data={"csrf_token": token}).status_code == 403
        if user is world.guard:
            assert 'id="tokens"' not in client.get(f"/devices/{device.id}").get_data(as_text=True)
        client.post("/logout", data={"csrf_token": token})
    assert login(client, other, world.PASSWORD).status_code == 302
    token = csrf(client, "/devices/")
    assert client.post(f"/devices/{device.id}/tokens", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/devices/{device.id}/tokens/1/revoke", data={"csrf_token": token}).status_code == 404


def test_another_devices_token_is_not_found_and_keeps_working(client, world):
    device, _ = world.device("gate-mine")
    other, _ = world.device("gate-other")
    _manager(client, world)
    client.get("/desk/?lang=zh")
    token = _issue(client, device)
    row = re.search(r'data-token="(\d+)"', client.get(f"/devices/{device.id}").get_data(as_text=True)).group(1)
    resp = client.post(f"/devices/{other.id}/tokens/{row}/revoke", data={"csrf_token": csrf(client, f"/devices/{other.id}")})
    assert resp.status_code == 404 and "没有这个令牌。" in resp.get_data(as_text=True)
    assert _verify(client, token) == 200
