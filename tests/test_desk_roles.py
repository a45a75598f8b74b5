"""Role checks over every desk and watchlist route: residents 403, guards read but do not manage, other sites see nothing."""

import re

import pytest
from desk_support import event, login_page
from support import csrf

from portal.app import create_app
from portal.config import TestConfig
from portal.extensions import db

MARK = "独特标记"
MANAGE = {
    ("POST", "/api/v1/watchlist"),
    ("POST", "/api/v1/watchlist/<int:entry_id>/deactivate"),
    ("POST", "/watchlist/"),
    ("POST", "/watchlist/<int:entry_id>/deactivate"),
}
# Managers decide goods for a unit nobody lives in: a guard, of any site, is refused by role first.
MANAGER_ONLY = MANAGE | {
    ("POST", "/api/v1/desk/items/<int:item_id>/approve"),
    ("POST", "/api/v1/desk/items/<int:item_id>/refuse"),
}


def _desk_routes():
    app = create_app(TestConfig)
    out = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if not view.__module__.startswith(("portal.desk", "portal.walkins", "portal.watchlist")) or (
            rule.rule.startswith(("/host/", "/api/v1/approvals"))
        ):  # the host's (resident) side of walk-ins
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule))
    return sorted(out)


ROUTES = _desk_routes()


def _objects(client, world):
    """One object of each kind at the world's site, and the path parameters that reach them."""
    g = world.token(world.guard)
    pid = world.make_pass(visitor_name=MARK).id
    event(world, pass_id=pid, decision="deny", reason="expired")
    wid = client.post("/api/v1/desk/walk-ins", json={"name": MARK, "unit_id": world.unit_a.id}, headers=g).get_json()["id"]
    iid = client.post(
        "/api/v1/desk/items", json={"name": MARK, "unit_id": world.unit_a.id, "direction": "in", "description": MARK}, headers=g
    ).get_json()["id"]
    eid = client.post(
        "/api/v1/watchlist", json={"kind": "person", "name": MARK, "phone": "13900003333"}, headers=world.token(world.manager)
    ).get_json()["id"]
    xid = client.get("/api/v1/desk/exceptions", headers=g).get_json()["items"][0]["id"]
    keypad, _ = world.device("keypad-1", kind="gate_reader")
    return {"exc_id": xid, "walk_in_id": wid, "item_id": iid, "entry_id": eid, "device_id": keypad.id}


def _path(rule, ids):
    return re.sub(r"<(?:int:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule)


def _call(client, method, path, token_header, csrf):
    if path.startswith("/api/"):
        return client.open(path, method=method, json={}, headers=token_header, buffered=False)
    return client.open(path, method=method, data={"csrf_token": csrf} if method == "POST" else None, buffered=False)


def _session(client, world, user):
    login_page(client, world, user)
    return csrf(client, "/host/approvals" if user.role == "resident" else "/desk/shift")


def test_every_desk_route_is_listed():
    assert len(ROUTES) >= 40
    assert ("GET", "/api/v1/desk/stream") in ROUTES and ("GET", "/desk/stream") in ROUTES


def _stranger(app, world):
    from portal.accounts.operations import create_user

    with app.test_request_context():
        user = create_user("guard_x", world.PASSWORD, "guard", "别处保安", site=world.other_site)
        db.session.commit()
    return user


def _check_resident(resp, method, rule):
    return resp.status_code == 403


def _check_stranger(resp, method, rule):
    if rule.endswith("/stream"):
        return resp.status_code == 200  # an empty stream: nothing of this site ever arrives (see test_desk_feed)
    body = resp.get_data(as_text=True)
    if MARK in body or "正门" in body:
        return False
    if "<" not in rule:
        return resp.status_code < 500
    return resp.status_code == (403 if (method, rule) in MANAGER_ONLY else 404)


@pytest.mark.parametrize("who", ["resident", "other_site_guard"])
def test_every_desk_route_refuses_outsiders(app, world, who):
    """A resident gets 403 on every desk route; another site's guard gets nothing of this site (404 on its objects)."""
    client = app.test_client()
    ids = _objects(client, world)
    user = world.r1 if who == "resident" else _stranger(app, world)
    check = _check_resident if who == "resident" else _check_stranger
    csrf = _session(client, world, user)
    header = world.token(user)
    failures = []
    for method, rule in ROUTES:
        resp = _call(client, method, _path(rule, ids), header, csrf)
        if not check(resp, method, rule):
            failures.append((method, rule, resp.status_code))
        resp.close()
    assert failures == []


@pytest.mark.parametrize("method,rule", sorted(MANAGE))
def test_guard_cannot_manage_the_watchlist_but_a_manager_can(app, world, method, rule):
    client = app.test_client()
    ids = _objects(client, world)
    csrf = _session(client, world, world.guard)
    body = {"kind": "plate", "plate": "沪B12345"}
    if rule.startswith("/api/"):
        assert client.post(_path(rule, ids), json=body, headers=world.token(world.guard)).status_code == 403
        assert client.post(_path(rule, ids), json=body, headers=world.token(world.manager)).status_code in (200, 201)
    else:
        assert client.post(_path(rule, ids), data=body | {"csrf_token": csrf}).status_code == 403
        manager = app.test_client()
        mcsrf = _session(manager, world, world.manager)
        assert manager.post(_path(rule, ids), data=body | {"csrf_token": mcsrf}).status_code == 302


def test_guard_can_view_the_watchlist_masked(client, world):
    _objects(client, world)
    items = client.get("/api/v1/watchlist", headers=world.token(world.guard)).get_json()["items"]
    assert items[0]["hint"] == "+86 139****3333" and "13900003333" not in str(items)


def test_guard_cannot_manage_devices(client, world):
    dev, _ = world.device("door-9", kind="door_controller")
    resp = client.post(f"/api/v1/devices/{dev.id}/tokens", json={}, headers=world.token(world.guard))
    if resp.status_code == 404 and "/api/v1/devices/" not in str(world.app.url_map):
        pytest.skip("device management API not present")
    assert resp.status_code == 403


@pytest.mark.integration
def test_admin_site_id_beyond_any_id_is_404_on_postgres(pg_app, pg_world):
    """A global admin's ?site_id= too large for PostgreSQL's INTEGER is no such community (it was a 500)."""
    from portal.accounts.operations import create_user

    admin = create_user("admin_all", pg_world.PASSWORD, "admin", "总管理员")
    db.session.commit()
    resp = pg_app.test_client().get(f"/api/v1/desk/on-site?site_id={2**40}", headers=pg_world.token(admin))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
