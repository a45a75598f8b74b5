"""Residents' cars: the API by role, the site's limit and approval, the barrier, and the "My cars" page."""

import pytest
from conftest import each_database
from gate_support import events, reason
from support import csrf

from portal.extensions import db
from portal.sites.models import Site
from portal.vehicles.models import Vehicle

PLATE = "京A12345"


def _add(client, world, user, plate=PLATE, **body):
    return client.post("/api/v1/vehicles", json={"plate": plate, **body}, headers=world.token(user))


def _settings(world, **values):
    site = db.session.get(Site, world.site.id)
    site.settings = {**(site.settings or {}), **values}
    db.session.commit()


def _barrier(world, site=None):
    return world.device("barrier-1", kind="barrier", gates=[world.car_gate] if site is None else [], site=site)[1]


def test_resident_registers_lists_and_removes_a_plate(client, world):
    resp = _add(client, world, world.r1, plate="京ａ １２３４５")
    assert resp.status_code == 201, resp.get_json()
    car = resp.get_json()
    assert (car["plate"], car["unit_id"], car["status"]) == (PLATE, world.unit_a.id, "active")
    mine = client.get("/api/v1/vehicles", headers=world.token(world.r1)).get_json()["items"]
    assert [c["id"] for c in mine] == [car["id"]]
    assert client.get("/api/v1/vehicles", headers=world.token(world.r2)).get_json()["items"] == []
    site_cars = client.get("/api/v1/vehicles", headers=world.token(world.manager)).get_json()["items"]
    assert [c["plate"] for c in site_cars] == [PLATE]
    assert client.delete(f"/api/v1/vehicles/{car['id']}", headers=world.token(world.r1)).status_code == 204
    assert db.session.get(Vehicle, car["id"]) is None


def test_roles_and_other_households(client, world):
    car = _add(client, world, world.r1).get_json()
    # Another household's car does not exist for this resident; a guard may not register cars.
    assert client.delete(f"/api/v1/vehicles/{car['id']}", headers=world.token(world.r2)).status_code == 404
    assert client.post(f"/api/v1/vehicles/{car['id']}/approve", headers=world.token(world.r1)).status_code == 403
    assert _add(client, world, world.guard, plate="京B12345", unit_id=world.unit_a.id).status_code == 403
    assert client.get("/api/v1/vehicles", headers=world.token(world.guard)).status_code == 200
    # A resident cannot register for someone else's unit.
    other_unit = _add(client, world, world.r1, plate="京C12345", unit_id=world.unit_b.id)
    assert other_unit.status_code == 400 and "unit_id" in other_unit.get_json()["error"]["fields"]
    # Another community's manager sees nothing of this site.
    from portal.accounts.operations import create_user

    with world.app.test_request_context():
        elsewhere = create_user("manager2", world.PASSWORD, "manager", "别处经理", site=world.other_site)
        db.session.commit()
    assert client.delete(f"/api/v1/vehicles/{car['id']}", headers=world.token(elsewhere)).status_code == 404
    assert client.get("/api/v1/vehicles", headers=world.token(elsewhere)).get_json()["items"] == []
    bad = _add(client, world, elsewhere, plate="京D12345", unit_id=world.unit_a.id)
    assert bad.status_code == 400
    assert client.get("/api/v1/vehicles").status_code == 401


def test_bad_plates_duplicates_and_the_limit(client, world):
    bad = _add(client, world, world.r1, plate="not a plate")
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["fields"]["plate"]["messages"]) == {"en", "zh"}
    assert _add(client, world, world.r1, plate=None).status_code == 400
    assert _add(client, world, world.r1, unit_id="x").status_code == 400
    assert _add(client, world, world.r1).status_code == 201
    taken = _add(client, world, world.r2)
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "plate_taken"
    _settings(world, vehicles_per_unit=2)
    assert _add(client, world, world.r1, plate="京A12346").status_code == 201
    full = _add(client, world, world.r1, plate="京A12347")
    assert full.status_code == 409
    error = full.get_json()["error"]
    assert error["code"] == "limit_reached" and "2" in error["messages"]["en"] and "2" in error["messages"]["zh"]


def test_approval_flow(client, world):
    _settings(world, vehicles_need_approval=True)
    car = _add(client, world, world.r1).get_json()
    assert car["status"] == "pending"
    barrier = _barrier(world)
    assert reason(client, barrier, plate=PLATE) == ("deny", "unknown")
    assert client.post(f"/api/v1/vehicles/{car['id']}/approve", headers=world.token(world.guard)).status_code == 403
    resp = client.post(f"/api/v1/vehicles/{car['id']}/approve", headers=world.token(world.manager))
    assert resp.status_code == 200 and resp.get_json()["status"] == "active"
    again = client.post(f"/api/v1/vehicles/{car['id']}/approve", headers=world.token(world.manager))
    assert again.status_code == 409
    assert reason(client, barrier, plate=PLATE) == ("grant", "ok")
    # Taking the approval back: guards may not; the car waits again and the barrier refuses it at once.
    assert client.post(f"/api/v1/vehicles/{car['id']}/withdraw", headers=world.token(world.guard)).status_code == 403
    manager = world.token(world.manager)
    withdrawn = client.post(f"/api/v1/vehicles/{car['id']}/withdraw", headers=manager)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "pending"
    assert client.post(f"/api/v1/vehicles/{car['id']}/withdraw", headers=manager).status_code == 409
    assert reason(client, barrier, plate=PLATE, direction="out") == ("deny", "unknown")


@each_database
def test_barrier_grants_a_residents_car_one_per_lift_and_marks_the_event(client, world):
    car = _add(client, world, world.r1).get_json()
    barrier = _barrier(world)
    assert reason(client, barrier, plate="京a 12345") == ("grant", "ok")
    assert reason(client, barrier, plate=PLATE, direction="in") == ("deny", "anti_passback")
    assert reason(client, barrier, plate=PLATE, direction="out") == ("grant", "ok")
    assert reason(client, barrier, plate=PLATE, direction="in") == ("grant", "ok")
    recorded = events(method="plate")
    assert [(e.direction, e.reason) for e in recorded] == [("in", "ok"), ("in", "anti_passback"), ("out", "ok"), ("in", "ok")]
    assert all(e.details == {"resident_vehicle": True, "vehicle_id": car["id"]} for e in recorded)
    assert {e.pass_id for e in recorded} == {None}
    board = client.get("/api/v1/desk/events", headers=world.token(world.guard))
    assert board.status_code == 200 and len(board.get_json()["items"]) >= 4
    # Another community's barrier does not know this car.
    assert reason(client, _barrier(world, site=world.other_site), plate=PLATE) == ("deny", "unknown")


def test_watchlist_first_and_removed_plate_refused_at_once(client, world):
    from portal.watchlist.models import WatchlistEntry

    car = _add(client, world, world.r1).get_json()
    barrier = _barrier(world)
    assert reason(client, barrier, plate=PLATE) == ("grant", "ok")
    assert reason(client, barrier, plate=PLATE, direction="out") == ("grant", "ok")
    assert client.delete(f"/api/v1/vehicles/{car['id']}", headers=world.token(world.r1)).status_code == 204
    assert reason(client, barrier, plate=PLATE) == ("deny", "unknown")
    _add(client, world, world.r1)
    db.session.add(WatchlistEntry(site_id=world.site.id, kind="plate", plate=PLATE, active=True))
    db.session.commit()
    assert reason(client, barrier, plate=PLATE) == ("deny", "watchlisted")


def test_moving_out_removes_the_households_plates_when_the_unit_empties(client, world):
    from portal.accounts.operations import create_user
    from portal.sites.operations import move_in, move_out

    with world.app.test_request_context():
        partner = create_user("r3", world.PASSWORD, "resident", "张伟的家人")
        move_in(partner, world.unit_a, "family")
        db.session.commit()
    _add(client, world, world.r1)
    barrier = _barrier(world)
    with world.app.test_request_context():
        move_out(world.r1.current_residencies()[0])
        db.session.commit()
    assert reason(client, barrier, plate=PLATE) == ("grant", "ok")  # the family still lives there
    with world.app.test_request_context():
        move_out(partner.current_residencies()[0])
        db.session.commit()
    assert db.session.scalars(db.select(Vehicle)).all() == []
    assert reason(client, barrier, plate=PLATE, direction="out") == ("deny", "unknown")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_my_cars_page_in_both_languages(resident_client, world, lang):
    resident_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    page = resident_client.get("/my/cars").get_data(as_text=True)
    assert ("我的车辆" if lang == "zh" else "My cars") in page
    assert 'href="/my/cars"' in resident_client.get("/my/").get_data(as_text=True)
    token = csrf(resident_client, "/my/cars")
    resp = resident_client.post("/my/cars", data={"csrf_token": token, "plate": "京a12345"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and PLATE in page and ("已添加" if lang == "zh" else "Car added") in page
    bad = resident_client.post("/my/cars", data={"csrf_token": token, "plate": "xx"}, follow_redirects=True)
    assert ("车牌" if lang == "zh" else "licence plate") in bad.get_data(as_text=True)
    car = db.session.scalars(db.select(Vehicle)).one()
    assert resident_client.post("/my/cars", data={"plate": "京B12345"}).status_code in (400, 403)
    gone = resident_client.post(f"/my/cars/{car.id}/remove", data={"csrf_token": token}, follow_redirects=True)
    assert gone.status_code == 200 and ("已删除" if lang == "zh" else "Car removed") in gone.get_data(as_text=True)
    assert db.session.scalars(db.select(Vehicle)).all() == []


def test_managers_approve_on_the_list_page(client, world, manager_client, resident_client):
    _settings(world, vehicles_need_approval=True)
    car = _add(client, world, world.r1).get_json()
    manager_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh"
    page = manager_client.get("/vehicles/").get_data(as_text=True)
    assert PLATE in page and "待审批" in page
    token = csrf(manager_client, "/vehicles/")
    resp = manager_client.post(f"/vehicles/{car['id']}/approve", data={"csrf_token": token}, follow_redirects=True)
    assert resp.status_code == 200 and db.session.get(Vehicle, car["id"]).status == "active"
    assert "撤销审批" in resp.get_data(as_text=True)
    token = csrf(manager_client, "/vehicles/")
    resp = manager_client.post(f"/vehicles/{car['id']}/withdraw", data={"csrf_token": token}, follow_redirects=True)
    assert "已撤销审批" in resp.get_data(as_text=True) and db.session.get(Vehicle, car["id"]).status == "pending"
    assert resident_client.get("/vehicles/").status_code == 403
    assert resident_client.post(f"/vehicles/{car['id']}/withdraw", data={"csrf_token": token}).status_code in (400, 403)


def test_the_managers_list_shows_cars_waiting_for_approval_first(client, world, manager_client):
    _settings(world, vehicles_need_approval=True)
    waiting = _add(client, world, world.r1, plate="京A11111").get_json()
    _settings(world, vehicles_need_approval=False)
    newer = _add(client, world, world.r1, plate="京B22222").get_json()
    assert (waiting["status"], newer["status"]) == ("pending", "active")
    page = manager_client.get("/vehicles/").get_data(as_text=True)
    assert page.index("京A11111") < page.index("京B22222")
