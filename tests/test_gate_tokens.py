"""Managers issue, rotate and revoke device tokens; tokens are stored hashed and scoped to the site."""

from datetime import timedelta

from gate_support import reason

from portal.accounts.models import ApiToken
from portal.audit.models import AuditEntry
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.passes import codes


def _issue(client, world, dev, user=None, **body):
    return client.post(f"/api/v1/devices/{dev.id}/tokens", json=body, headers=world.token(user or world.manager))


def test_manager_issues_token_that_works_and_is_stored_hashed(client, world):
    dev, _ = world.device()
    resp = _issue(client, world, dev, name="reader at main gate")
    assert resp.status_code == 201
    data = resp.get_json()
    assert data["token"].startswith("vpd_") and data["live"] and data["name"] == "reader at main gate"
    row = db.session.get(ApiToken, data["id"])
    assert row.token_hash != data["token"] and data["token"] not in row.token_hash
    p = world.make_pass()
    assert reason(client, {"Authorization": f"Bearer {data['token']}"}, qr=codes.qr_text(p)) == ("grant", "ok")
    listed = client.get(f"/api/v1/devices/{dev.id}/tokens", headers=world.token(world.manager)).get_json()["items"]
    assert {t["id"] for t in listed} >= {data["id"]} and all("token" not in t for t in listed)
    assert db.session.scalar(db.select(AuditEntry).filter_by(action="device.token.issue", object_id=str(dev.id)))


def test_rotate_revokes_old_tokens_now(client, world):
    dev, old_header = world.device()
    p = world.make_pass(max_entries=None)
    new = _issue(client, world, dev, retire_others=True).get_json()["token"]
    assert client.post("/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers=old_header).status_code == 401
    assert reason(client, {"Authorization": f"Bearer {new}"}, qr=codes.qr_text(p)) == ("grant", "ok")


def test_rotate_with_grace_keeps_old_token_for_a_while(client, world):
    dev, old_header = world.device()
    p = world.make_pass(max_entries=None)
    assert _issue(client, world, dev, retire_others=True, grace_seconds=600).status_code == 201
    assert reason(client, old_header, qr=codes.qr_text(p)) == ("grant", "ok")
    old = db.session.scalars(db.select(ApiToken).filter_by(device_id=dev.id).order_by(ApiToken.id)).first()
    assert old.expires_at is not None and old.expires_at <= utcnow() + timedelta(seconds=601)
    old.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.post("/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers=old_header).status_code == 401


def test_revoke_one_token(client, world):
    dev, header = world.device()
    token_id = db.session.scalar(db.select(ApiToken.id).filter_by(device_id=dev.id))
    resp = client.post(f"/api/v1/devices/{dev.id}/tokens/{token_id}/revoke", headers=world.token(world.manager))
    assert resp.status_code == 200 and resp.get_json()["live"] is False
    p = world.make_pass()
    assert client.post("/api/v1/gate/verify", json={"qr": codes.qr_text(p)}, headers=header).status_code == 401
    other, _ = world.device("gate-2")
    assert (
        client.post(f"/api/v1/devices/{other.id}/tokens/{token_id}/revoke", headers=world.token(world.manager)).status_code == 404
    )


def test_only_managers_of_the_site(client, world):
    from portal.accounts.operations import create_user

    dev, _ = world.device()
    for user in (world.r1, world.guard):
        assert _issue(client, world, dev, user=user).status_code == 403
    outsider = create_user("manager2", world.PASSWORD, "manager", "别的经理", site=world.other_site)
    db.session.commit()
    assert _issue(client, world, dev, user=outsider).status_code == 404
    assert client.get(f"/api/v1/devices/{dev.id}/tokens", headers=world.token(outsider)).status_code == 404
    assert client.post(f"/api/v1/devices/{dev.id}/tokens", json={}).status_code in (401, 403)


def test_bad_token_bodies(client, world):
    dev, _ = world.device()
    for body in ({"name": 5}, {"name": "x" * 81}, {"retire_others": "yes"}, {"grace_seconds": -1}, {"grace_seconds": True}):
        resp = _issue(client, world, dev, **body)
        assert resp.status_code == 400 and resp.is_json, body
