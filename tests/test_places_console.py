"""The manager's console for places: communities, buildings, units and gates by page, by role, in both languages."""

import pytest
from support import csrf

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.sites.models import Building, Gate, Site, Unit

BASE = "/team/community"


def _post(client, path, data, page=None):
    return client.post(path, data={"csrf_token": csrf(client, page or path), **data})


def _audit(action):
    return db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


def test_manager_lands_on_their_community_and_edits_it(world, manager_client):
    assert manager_client.get(f"{BASE}/").headers["Location"].endswith(f"{BASE}/sunny/")
    page = manager_client.get(f"{BASE}/sunny/?lang=en").get_data(as_text=True)
    assert "阳光花园" in page and "A栋" in page and "正门" in page
    resp = _post(
        manager_client,
        f"{BASE}/sunny/",
        {
            "name": "阳光花园",
            "name_en": "Sunny Garden",
            "timezone": "Asia/Shanghai",
            "address": "1 Road",
            "directions": "进门右转",
        },
    )
    assert resp.status_code == 302
    site = db.session.get(Site, world.site.id)
    assert (site.name_en, site.directions, site.slug) == ("Sunny Garden", "进门右转", "sunny")
    # English pages show the English name, Chinese pages the Chinese one.
    assert "<h1>Sunny Garden</h1>" in manager_client.get(f"{BASE}/sunny/?lang=en").get_data(as_text=True)
    assert "<h1>阳光花园</h1>" in manager_client.get(f"{BASE}/sunny/?lang=zh").get_data(as_text=True)
    (entry,) = _audit("site.update")
    assert entry.details["changes"]["name_en"] == [None, "Sunny Garden"] and entry.actor_id == world.manager.id


def test_bad_input_is_shown_in_the_page_language(world, manager_client):
    bad = {"name": "", "timezone": "Mars/Base", "address": "x" * 300}
    zh = _post(manager_client, f"{BASE}/sunny/?lang=zh", bad)
    assert zh.status_code == 400
    text = zh.get_data(as_text=True)
    assert "未知的时区。" in text and "此项为必填项。" in text and "Unknown time zone." not in text
    en = _post(manager_client, f"{BASE}/sunny/?lang=en", bad).get_data(as_text=True)
    assert "Unknown time zone." in en and "This field is required." in en and "At most 255 characters." in en
    assert db.session.get(Site, world.site.id).name == "阳光花园"


def test_buildings_units_and_gates(world, manager_client):
    resp = _post(
        manager_client,
        f"{BASE}/sunny/buildings",
        {"code": "C", "name": "C栋", "name_en": "Block C", "lowest_floor": "-2", "highest_floor": "30"},
        f"{BASE}/sunny/",
    )
    assert resp.status_code == 302
    b = db.session.scalar(db.select(Building).where(Building.code == "C"))
    assert (b.name_en, b.lowest_floor, b.highest_floor) == ("Block C", -2, 30)
    page = f"{BASE}/sunny/buildings/{b.id}"
    # The same code twice, floors upside down: refused field by field.
    dup = _post(
        manager_client,
        f"{BASE}/sunny/buildings?lang=en",
        {"code": "C", "name": "x", "lowest_floor": "5", "highest_floor": "1"},
        f"{BASE}/sunny/",
    )
    assert dup.status_code == 400 and "cannot be below the lowest" in dup.get_data(as_text=True)
    dup = _post(
        manager_client,
        f"{BASE}/sunny/buildings?lang=en",
        {"code": "C", "name": "x", "lowest_floor": "1", "highest_floor": "2"},
        f"{BASE}/sunny/",
    )
    assert dup.status_code == 400 and "already has a building with this code" in dup.get_data(as_text=True)
    # Units: a floor outside the building is refused; numbers are unique in the building.
    assert _post(manager_client, f"{page}/units", {"number": "3001", "floor": "31"}, page).status_code == 400
    assert _post(manager_client, f"{page}/units", {"number": "3001", "floor": "30"}, page).status_code == 302
    assert _post(manager_client, f"{page}/units?lang=en", {"number": "3001", "floor": "29"}, page).status_code == 400
    unit = db.session.scalar(db.select(Unit).where(Unit.building_id == b.id))
    assert _post(manager_client, f"{BASE}/sunny/units/{unit.id}", {"number": "3002", "floor": "30"}, page).status_code == 302
    assert db.session.get(Unit, unit.id).number == "3002"
    # Shrinking the floors under a unit is refused.
    shrink = _post(manager_client, f"{page}?lang=en", {"name": "C栋", "lowest_floor": "1", "highest_floor": "20"}, page)
    assert shrink.status_code == 400 and "3002" in shrink.get_data(as_text=True)
    # Gates: add, rename, tie to the building.
    assert (
        _post(
            manager_client,
            f"{BASE}/sunny/gates",
            {"code": "NORTH", "name": "北门", "name_en": "North gate", "kind": "vehicle", "building_id": str(b.id)},
            f"{BASE}/sunny/",
        ).status_code
        == 302
    )
    g = db.session.scalar(db.select(Gate).where(Gate.code == "NORTH"))
    assert (g.kind, g.building_id, g.name_en) == ("vehicle", b.id, "North gate")
    other_b = _post(
        manager_client,
        f"{BASE}/sunny/gates/{g.id}",
        {"name": "北门", "kind": "pedestrian", "building_id": "999"},
        f"{BASE}/sunny/gates/{g.id}",
    )
    assert other_b.status_code == 400
    assert (
        _post(
            manager_client, f"{BASE}/sunny/gates/{g.id}", {"name": "北门2", "kind": "pedestrian"}, f"{BASE}/sunny/gates/{g.id}"
        ).status_code
        == 302
    )
    assert db.session.get(Gate, g.id).name == "北门2"
    assert {e.action for e in db.session.scalars(db.select(AuditEntry))} >= {
        "building.create",
        "unit.create",
        "unit.update",
        "gate.create",
        "gate.update",
    }


def test_a_building_with_residents_or_history_is_kept(world, manager_client):
    page = f"{BASE}/sunny/buildings/{world.bldg_a.id}"
    resp = _post(manager_client, f"{page}/delete?lang=en", {}, page)
    assert resp.status_code == 409 and "move them out first" in resp.get_data(as_text=True)
    assert db.session.get(Building, world.bldg_a.id) is not None
    unit = _post(manager_client, f"{BASE}/sunny/units/{world.unit_a.id}?lang=en", {"delete": "1"}, page)
    assert unit.status_code == 400 and db.session.get(Unit, world.unit_a.id) is not None
    # A gate a device serves is kept; an empty building and an unused gate go.
    world.device()
    gate_page = f"{BASE}/sunny/gates/{world.gate.id}"
    assert _post(manager_client, gate_page, {"delete": "1"}).status_code == 400
    with world.app.test_request_context():
        from portal.sites import operations as places

        empty = places.add_building(world.site, "Z", "Z栋", 1, 3)
        places.add_unit(empty, "101", 1)
        db.session.commit()
    assert (
        _post(manager_client, f"{BASE}/sunny/buildings/{empty.id}/delete", {}, f"{BASE}/sunny/buildings/{empty.id}").status_code
        == 302
    )
    assert db.session.get(Building, empty.id) is None
    assert _post(manager_client, f"{BASE}/sunny/gates/{world.car_gate.id}", {"delete": "1"}).status_code == 302
    assert db.session.get(Gate, world.car_gate.id) is None
    assert [e.details["code"] for e in _audit("building.delete")] == ["Z"]


@pytest.mark.parametrize("path", ["/", "/sunny/", "/sunny/settings", "/sunny/buildings/1", "/sunny/gates/1"])
def test_residents_and_guards_get_403(world, resident_client, guard_client, path):
    assert resident_client.get(BASE + path).status_code == 403
    assert guard_client.get(BASE + path).status_code == 403


def test_another_community_does_not_exist_for_a_manager(world, manager_client):
    with world.app.test_request_context():
        from portal.sites import operations as places

        b = places.add_building(world.other_site, "X", "X栋", 1, 5)
        g = places.add_gate(world.other_site, "X", "X门")
        db.session.commit()
    for path in (
        "/other/",
        "/other/settings",
        f"/other/buildings/{b.id}",
        f"/other/gates/{g.id}",
        f"/sunny/buildings/{b.id}",
        f"/sunny/gates/{g.id}",
    ):
        assert manager_client.get(BASE + path).status_code == 404, path
    token = csrf(manager_client, f"{BASE}/sunny/")
    assert manager_client.post(f"{BASE}/other/", data={"csrf_token": token, "name": "抢"}).status_code == 404
    assert manager_client.post(f"{BASE}/sunny/buildings/{b.id}/delete", data={"csrf_token": token}).status_code == 404
    assert manager_client.post(f"{BASE}/", data={"csrf_token": token, "slug": "mine", "name": "我的"}).status_code == 403
    assert db.session.get(Site, world.other_site.id).name == "别的小区"


def test_from_an_empty_database_an_admin_opens_the_first_community(app, login_as):
    from support import PASSWORD

    from portal.accounts.operations import create_user

    with app.test_request_context():
        admin = create_user("boss", PASSWORD, "admin", "老板")
        db.session.commit()
    client = login_as(admin)
    assert client.get("/").headers["Location"].endswith(f"{BASE}/")
    assert "sunny-garden" in client.get(f"{BASE}/?lang=en").get_data(as_text=True)  # the hint's example
    bad = _post(client, f"{BASE}/?lang=en", {"slug": "Not A Slug", "name": "阳光"}, f"{BASE}/")
    assert bad.status_code == 400 and "lower-case letters" in bad.get_data(as_text=True)
    resp = _post(client, f"{BASE}/", {"slug": "sunny", "name": "阳光花园", "name_en": "Sunny", "timezone": "Asia/Shanghai"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"{BASE}/sunny/")
    site = db.session.scalar(db.select(Site).where(Site.slug == "sunny"))
    from portal.passes.models import SigningKey

    assert db.session.scalar(db.select(SigningKey).where(SigningKey.site_id == site.id)) is not None
    again = _post(client, f"{BASE}/?lang=en", {"slug": "sunny", "name": "又一个"}, f"{BASE}/")
    assert again.status_code == 400 and "already uses this short name" in again.get_data(as_text=True)


def test_a_manager_without_a_community_opens_one_and_runs_it(app, login_as):
    from support import PASSWORD

    from portal.accounts.operations import create_user

    with app.test_request_context():
        manager = create_user("first", PASSWORD, "manager", "第一位经理")
        db.session.commit()
    client = login_as(manager)
    assert client.get("/").headers["Location"].endswith(f"{BASE}/")
    assert _post(client, f"{BASE}/", {"slug": "east", "name": "东苑"}).status_code == 302
    site = db.session.scalar(db.select(Site).where(Site.slug == "east"))
    assert db.session.get(User, manager.id).site_id == site.id
    assert client.get(f"{BASE}/east/").status_code == 200
    # Now it runs one community: it cannot open another.
    assert _post(client, f"{BASE}/", {"slug": "west", "name": "西苑"}, f"{BASE}/east/").status_code == 403


def test_words_with_two_meanings_get_the_chinese_of_theirs(world, manager_client):
    """A pedestrian gate is 行人 (not 人员, people in an incident); a checkpoint's name is 巡逻点名称 (not a person's 姓名)."""
    console = manager_client.get(f"/team/community/{world.site.slug}/?lang=zh").get_data(as_text=True)
    assert "<td>行人</td>" in console and "<td>人员</td>" not in console
    checkpoints = manager_client.get("/patrol/manage?lang=zh").get_data(as_text=True)
    assert "巡逻点名称" in checkpoints and "姓名" not in checkpoints
