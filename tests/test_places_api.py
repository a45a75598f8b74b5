"""Places as JSON: communities, buildings, units and gates by role; another community's are 404."""

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.sites.models import Building, Gate, Site, Unit

API = "/api/v1/sites"


def test_a_manager_reads_and_changes_their_community(client, world):
    h = world.token(world.manager)
    items = client.get(API, headers=h).get_json()["items"]
    assert [s["slug"] for s in items] == ["sunny"]
    assert {b["code"] for b in items[0]["buildings"]} == {"A", "B"} and {g["code"] for g in items[0]["gates"]} == {"MAIN", "CAR"}
    resp = client.patch(f"{API}/sunny", json={"name_en": "Sunny Garden"}, headers=h)
    assert resp.status_code == 200 and resp.get_json()["name_en"] == "Sunny Garden" and resp.get_json()["name"] == "阳光花园"
    b = client.post(f"{API}/sunny/buildings", json={"code": "C", "name": "C栋", "highest_floor": 9}, headers=h)
    assert b.status_code == 201 and b.get_json()["lowest_floor"] == 1
    bid = b.get_json()["id"]
    u = client.post(f"{API}/sunny/buildings/{bid}/units", json={"number": "901", "floor": 9}, headers=h)
    assert u.status_code == 201
    uid = u.get_json()["id"]
    assert client.patch(f"{API}/sunny/units/{uid}", json={"number": "902"}, headers=h).get_json()["number"] == "902"
    too_low = client.patch(f"{API}/sunny/buildings/{bid}", json={"highest_floor": 5}, headers=h)
    assert too_low.status_code == 400 and "902" in too_low.get_json()["error"]["fields"]["lowest_floor"]["messages"]["zh"]
    g = client.post(f"{API}/sunny/gates", json={"code": "S", "name": "南门", "kind": "vehicle", "building_id": bid}, headers=h)
    assert g.status_code == 201 and g.get_json()["building_id"] == bid
    gid = g.get_json()["id"]
    assert client.patch(f"{API}/sunny/gates/{gid}", json={"name_en": "South"}, headers=h).get_json()["kind"] == "vehicle"
    # The gate holds the building; removing the gate, then the unit and the building, works.
    assert client.delete(f"{API}/sunny/buildings/{bid}", headers=h).status_code == 409
    assert client.delete(f"{API}/sunny/gates/{gid}", headers=h).status_code == 204
    assert client.delete(f"{API}/sunny/units/{uid}", headers=h).status_code == 204
    assert client.delete(f"{API}/sunny/buildings/{bid}", headers=h).status_code == 204
    assert db.session.get(Building, bid) is None and db.session.get(Gate, gid) is None and db.session.get(Unit, uid) is None
    actions = set(db.session.scalars(db.select(AuditEntry.action).where(AuditEntry.actor_id == world.manager.id)))
    assert {"site.update", "building.create", "unit.update", "gate.delete", "building.delete"} <= actions


def test_validation_errors_name_fields_in_both_languages(client, world):
    h = world.token(world.manager)
    dup = client.post(f"{API}/sunny/buildings", json={"code": "A", "name": "又一个", "highest_floor": 3}, headers=h)
    assert dup.status_code == 400 and dup.get_json()["error"]["fields"]["code"]["code"] == "code_taken"
    for body in ({}, {"code": "x y", "name": "z", "highest_floor": 1}, {"code": "Q", "name": "z", "highest_floor": "ten"}, [1]):
        r = client.post(f"{API}/sunny/buildings", json=body, headers=h)
        assert r.status_code == 400, body
        assert set(r.get_json()["error"]["messages"]) == {"en", "zh"}
    bad = client.patch(f"{API}/sunny", json={"timezone": "Mars/Base"}, headers=h).get_json()["error"]["fields"]
    assert bad["timezone"]["messages"] == {"en": "Unknown time zone.", "zh": "未知的时区。"}
    assert client.delete(f"{API}/sunny/buildings/{world.bldg_a.id}", headers=h).status_code == 409


def test_roles_and_other_communities(client, world):
    with world.app.test_request_context():
        from portal.sites import operations as places

        b = places.add_building(world.other_site, "X", "X栋", 1, 5)
        g = places.add_gate(world.other_site, "X", "X门")
        db.session.commit()
    for user in (world.r1, world.guard):
        h = world.token(user)
        assert client.get(API, headers=h).status_code == 403
        assert client.get(f"{API}/sunny", headers=h).status_code == 403
        assert client.post(f"{API}/sunny/gates", json={"code": "Z", "name": "z"}, headers=h).status_code == 403
    h = world.token(world.manager)
    assert client.get(f"{API}/other", headers=h).status_code == 404
    assert client.patch(f"{API}/other", json={"name": "抢"}, headers=h).status_code == 404
    assert client.patch(f"{API}/sunny/buildings/{b.id}", json={"name": "抢"}, headers=h).status_code == 404
    assert client.delete(f"{API}/sunny/gates/{g.id}", headers=h).status_code == 404
    assert client.post(API, json={"slug": "mine", "name": "我的"}, headers=h).status_code == 403
    assert db.session.get(Building, b.id).name == "X栋" and db.session.get(Site, world.other_site.id).name == "别的小区"


def test_an_admin_opens_communities(client, world, admin):
    h = world.token(admin)
    assert {s["slug"] for s in client.get(API, headers=h).get_json()["items"]} == {"sunny", "other"}
    made = client.post(API, json={"slug": "east", "name": "东苑", "name_en": "East Court"}, headers=h)
    assert made.status_code == 201 and made.get_json()["timezone"] == "Asia/Shanghai"
    again = client.post(API, json={"slug": "east", "name": "又一个"}, headers=h)
    assert again.status_code == 400 and again.get_json()["error"]["fields"]["slug"]["code"] == "slug_taken"
