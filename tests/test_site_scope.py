"""A guard or manager with no community sees none: a missing site_id never widens a view to every community."""

import pytest
from support import login

from portal.accounts.operations import create_user
from portal.devices.models import Device
from portal.extensions import db


@pytest.fixture
def siteless(world):
    """A manager whose community was never set (or was taken away), and one device in each community."""
    user = create_user("drifter", world.PASSWORD, "manager", "无小区经理")
    world.device("sunny-reader")
    db.session.commit()
    return user


def test_api_views_of_every_community_are_404(client, world, siteless):
    header = world.token(siteless)
    for path in ("/api/v1/devices", f"/api/v1/devices?site_id={world.site.id}", "/api/v1/staff", "/api/v1/reports/kpi"):
        resp = client.get(path, headers=header)
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found", (path, resp.get_json())
    sunny_device = db.session.scalar(db.select(Device).where(Device.site_id == world.site.id))
    assert client.get(f"/api/v1/devices/{sunny_device.id}", headers=header).status_code == 404


def test_naming_a_community_in_the_body_does_not_let_them_add_to_it(client, world, siteless):
    header = world.token(siteless)
    device = {"name": "偷装的门", "kind": "door_controller", "driver": "simulator", "site_id": world.site.id}
    staff = {"login": "mole", "name": "内应", "role": "manager", "site_id": world.site.id}
    before = db.session.scalar(db.select(db.func.count()).select_from(Device))
    assert client.post("/api/v1/devices", json=device, headers=header).status_code == 404
    assert client.post("/api/v1/staff", json=staff, headers=header).status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(Device)) == before
    assert client.get("/api/v1/staff", headers=world.token(world.manager)).get_json()["items"]
    assert "mole" not in str(client.get("/api/v1/staff", headers=world.token(world.manager)).get_json())


def test_pages_are_404_for_them_and_unchanged_for_an_admin(app, client, world, siteless):
    admin = create_user("root", world.PASSWORD, "admin", "总管理员")
    db.session.commit()
    pages = app.test_client()
    login(pages, siteless)
    for path in ("/devices/", f"/devices/?site_id={world.site.id}", "/staff/", f"/staff/?site_id={world.site.id}"):
        assert pages.get(path).status_code == 404, path
    header = world.token(admin)
    listed = client.get(f"/api/v1/devices?site_id={world.site.id}", headers=header)
    assert listed.status_code == 200 and [d["name"] for d in listed.get_json()["items"]] == ["sunny-reader"]
    assert client.get("/api/v1/staff", headers=header).status_code == 200
