"""Push status and device management: who may see and change what, and secrets never shown back."""

import json

import pytest
from support import csrf, login

from portal.audit.models import AuditEntry
from portal.bridge.models import DeviceCredential
from portal.devices.changes import SET
from portal.devices.models import Device
from portal.extensions import db

SECRET = "s3cret-Digest-pw"


def _login(client, user, world):
    assert login(client, user, world.PASSWORD).status_code == 302


_csrf = csrf


@pytest.fixture
def setup(world):
    """A terminal with a stored password and one failed, one held credential."""
    from portal.accounts.operations import create_user

    dev, _ = world.device("lobby-face", "face_terminal")
    dev.driver, dev.options = "isapi", {"url": "http://10.0.0.9", "password": SECRET}
    db.session.add_all(
        [
            DeviceCredential(
                device_id=dev.id,
                key="V7",
                pass_id=7,
                desired="present",
                status="failed",
                last_error="face image rejected: too small",
                attempts=6,
            ),
            DeviceCredential(
                device_id=dev.id, key="V8", pass_id=8, desired="present", status="ok", acked_state="present", acked_version=1
            ),
        ]
    )
    world.other_manager = create_user("other-mgr", world.PASSWORD, "manager", "Other", site=world.other_site)
    db.session.commit()
    return dev


def _status(dev_id, key):
    db.session.expire_all()
    return db.session.scalar(
        db.select(DeviceCredential.status).where(DeviceCredential.device_id == dev_id, DeviceCredential.key == key)
    )


def test_resident_gets_403_everywhere(client, world, setup):
    h = world.token(world.r1)
    assert client.get("/api/v1/devices", headers=h).status_code == 403
    assert client.get(f"/api/v1/devices/{setup.id}", headers=h).status_code == 403
    assert client.post(f"/api/v1/devices/{setup.id}/retry", headers=h).status_code == 403
    assert client.post("/api/v1/devices", json={"name": "x", "kind": "barrier"}, headers=h).status_code == 403


def test_guard_reads_status_but_cannot_change_anything(client, world, setup):
    h = world.token(world.guard)
    items = client.get("/api/v1/devices", headers=h).get_json()["items"]
    row = next(i for i in items if i["id"] == setup.id)
    assert row["credentials"] == {"ok": 1, "pending": 0, "failed": 1} and row["sync"] == "failed"
    one = client.get(f"/api/v1/devices/{setup.id}?status=failed", headers=h).get_json()
    assert [(c["key"], c["last_error"]) for c in one["credential_list"]] == [("V7", "face image rejected: too small")]
    assert SECRET not in json.dumps(one) and one["options"]["password"] == SET
    url = f"/api/v1/devices/{setup.id}"
    for method, path, body in [
        ("POST", f"{url}/retry", None),
        ("PATCH", url, {"name": "x"}),
        ("DELETE", url, None),
        ("POST", "/api/v1/devices", {"name": "x", "kind": "barrier"}),
    ]:
        assert client.open(path, method=method, json=body, headers=h).status_code == 403
    assert _status(setup.id, "V7") == "failed"


def test_manager_retries_one_credential_or_the_whole_device(client, world, setup):
    h = world.token(world.manager)
    resp = client.post(f"/api/v1/devices/{setup.id}/retry", json={"key": "V7"}, headers=h)
    assert resp.status_code == 200 and resp.get_json()["retried"] == 1
    assert _status(setup.id, "V7") == "pending"
    db.session.execute(db.update(DeviceCredential).where(DeviceCredential.key == "V7").values(status="failed"))
    db.session.commit()
    assert client.post(f"/api/v1/devices/{setup.id}/retry", headers=h).get_json()["retried"] == 1
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "device.retry")) is not None


def test_manager_adds_edits_and_removes_with_secrets_kept_but_never_shown(client, world, setup):
    h = world.token(world.manager)
    body = {
        "name": "north-door",
        "kind": "door_controller",
        "driver": "simulator",
        "options": {"gates": ["MAIN"], "doors": [1], "password": SECRET},
    }
    created = client.post("/api/v1/devices", json=body, headers=h)
    assert created.status_code == 201, created.get_json()
    dev = created.get_json()
    assert SECRET not in created.get_data(as_text=True)
    assert dev["gate_ids"] == [world.gate.id] and dev["options"] == {"password": "••• set"}
    patched = client.patch(
        f"/api/v1/devices/{dev['id']}",
        headers=h,
        json={"name": "north-door-2", "options": {"password": "••• set", "doors": [1, 2]}},
    )
    assert patched.status_code == 200, patched.get_json()
    stored = db.session.get(Device, dev["id"])
    db.session.refresh(stored)
    assert (stored.name, stored.doors, stored.options["password"]) == ("north-door-2", [1, 2], SECRET)
    assert client.patch(f"/api/v1/devices/{dev['id']}", json={"driver": "mqtt"}, headers=h).status_code == 400
    assert client.delete(f"/api/v1/devices/{dev['id']}", headers=h).status_code == 202
    actions = set(db.session.scalars(db.select(AuditEntry.action).where(AuditEntry.object_id == str(dev["id"]))))
    assert {"device.add", "device.update", "device.remove"} <= actions
    assert all(SECRET not in json.dumps(a.details) for a in db.session.scalars(db.select(AuditEntry)))


def test_bad_bodies_are_400_not_500(client, world, setup):
    h = world.token(world.manager)
    assert client.post("/api/v1/devices", data="{", headers=h, content_type="application/json").status_code == 400
    assert client.post("/api/v1/devices", json={"name": "x", "kind": "spaceship"}, headers=h).status_code == 400
    assert client.post("/api/v1/devices", json={"name": "x", "kind": "barrier", "options": []}, headers=h).status_code == 400
    assert client.patch(f"/api/v1/devices/{setup.id}", json={"options": {"gates": ["NOPE"]}}, headers=h).status_code == 400
    assert client.get(f"/api/v1/devices/{setup.id}?status=weird", headers=h).status_code == 400
    # A string where a list belongs is refused as such, not read letter by letter.
    bad = client.post("/api/v1/devices", json={"name": "x", "kind": "barrier", "options": {"gates": "abc"}}, headers=h)
    assert bad.status_code == 400 and "list of gate codes" in bad.get_data(as_text=True)
    for body in ({"doors": "12"}, {"floors": [True]}, {"doors": [{"n": 1}]}):
        resp = client.post("/api/v1/devices", json={"name": "x", "kind": "barrier", "options": body}, headers=h)
        assert resp.status_code == 400, body


ONE = "/api/v1/devices/{id}"


@pytest.mark.parametrize(
    "method,path,body",
    [("GET", ONE, None), ("PATCH", ONE, {"name": "mine"}), ("DELETE", ONE, None), ("POST", ONE + "/retry", None)],
)
def test_other_sites_manager_gets_404(client, world, setup, method, path, body):
    h = world.token(world.other_manager)
    assert client.open(path.format(id=setup.id), method=method, json=body, headers=h).status_code == 404
    assert setup.id not in [i["id"] for i in client.get("/api/v1/devices", headers=h).get_json()["items"]]
    assert db.session.get(Device, setup.id).status != "removing" and _status(setup.id, "V7") == "failed"


def test_pages_manager_sees_failures_and_retries(client, world, setup):
    _login(client, world.manager, world)
    page = client.get(f"/devices/{setup.id}").get_data(as_text=True)
    assert "face image rejected: too small" in page and 'name="key" value="V7"' in page and SECRET not in page
    assert "lobby-face" in client.get("/devices/").get_data(as_text=True)
    resp = client.post(f"/devices/{setup.id}/retry", data={"csrf_token": _csrf(client, f"/devices/{setup.id}"), "key": "V7"})
    assert resp.status_code == 302 and _status(setup.id, "V7") == "pending"


def test_pages_edit_keeps_the_stored_secret(client, world, setup):
    _login(client, world.manager, world)
    form = client.get(f"/devices/{setup.id}/edit").get_data(as_text=True)
    assert SECRET not in form and 'name="o_password"' in form and "http://10.0.0.9" in form
    data = {"csrf_token": _csrf(client, f"/devices/{setup.id}/edit"), "name": "lobby-face", "o_url": "http://10.0.0.10"}
    data |= {"o_password": "", "o_kind": "face", "o_verify": "y", "o_timezone": "Asia/Shanghai"}
    resp = client.post(f"/devices/{setup.id}/edit", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    db.session.expire_all()
    stored = db.session.get(Device, setup.id).options
    assert stored["url"] == "http://10.0.0.10" and stored["password"] == SECRET and stored["verify"] is True
    bad = client.post(
        f"/devices/{setup.id}/edit",
        data={"csrf_token": _csrf(client, f"/devices/{setup.id}/edit"), "name": "lobby-face", "options": "{not json"},
    )
    assert bad.status_code == 400 and SECRET not in bad.get_data(as_text=True)


def test_pages_guard_read_only_resident_403_other_site_404(client, world, setup):
    _login(client, world.guard, world)
    page = client.get(f"/devices/{setup.id}").get_data(as_text=True)
    assert "face image rejected: too small" in page and 'name="key"' not in page
    assert client.post(f"/devices/{setup.id}/retry", data={"csrf_token": _csrf(client, "/devices/")}).status_code == 403
    assert client.get("/devices/new").status_code == 403
    client.post("/logout", data={"csrf_token": _csrf(client, "/devices/")})
    _login(client, world.r1, world)
    assert client.get("/devices/").status_code == 403
    client.post("/logout", data={"csrf_token": _csrf(client, "/my/passes/new")})
    _login(client, world.other_manager, world)
    assert client.get(f"/devices/{setup.id}").status_code == 404
    assert client.get(f"/devices/{setup.id}/edit").status_code == 404


def test_pages_manager_adds_a_device(client, world, setup):
    _login(client, world.manager, world)
    data = {
        "csrf_token": _csrf(client, "/devices/new"),
        "name": "car-barrier",
        "kind": "barrier",
        "driver": "simulator",
        "gates": [str(world.car_gate.id)],
    }
    resp = client.post("/devices/new", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    dev = db.session.scalar(db.select(Device).where(Device.name == "car-barrier"))
    assert dev.gate_ids == [world.car_gate.id] and dev.site_id == world.site.id


def test_pages_show_last_contact_in_the_sites_time(client, world, setup):
    """Stored UTC 12:00 reads 20:00 on a +08:00 site, on the list and on the device page."""
    from datetime import UTC, datetime

    setup.last_seen_at = datetime(2026, 12, 6, 12, 0, 5, tzinfo=UTC)
    db.session.commit()
    _login(client, world.manager, world)
    for page in (client.get("/devices/").get_data(as_text=True), client.get(f"/devices/{setup.id}").get_data(as_text=True)):
        assert "2026-12-06 20:00:05" in page and "UTC" not in page


@pytest.mark.integration
def test_admin_site_ids_beyond_any_id_are_refused_on_postgres(pg_app, pg_world):
    """Site ids too large for PostgreSQL's INTEGER: no such community to list, a field error to add to (both were 500s)."""
    from portal.accounts.operations import create_user

    admin = create_user("admin_all", pg_world.PASSWORD, "admin", "总管理员")
    db.session.commit()
    client, h = pg_app.test_client(), pg_world.token(admin)
    listed = client.get(f"/api/v1/devices?site_id={2**40}", headers=h)
    assert listed.status_code == 404 and listed.get_json()["error"]["code"] == "not_found"
    added = client.post("/api/v1/devices", json={"name": "x", "kind": "barrier", "site_id": 2**40}, headers=h)
    assert added.status_code == 400 and added.get_json()["error"]["fields"]["site_id"]["code"] == "invalid"
