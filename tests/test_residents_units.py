"""The unit page: move in (activation SMS) and move out (passes revoked, the last one out takes the cars), by page and API;
the roll export, masked without the export right, re-imported unchanged; roles and other communities."""

import csv
import io
import re

import pytest

from portal.accounts.models import Residency, User
from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.passes.models import Pass
from portal.vehicles.models import Vehicle
from tests.residents_support import activation_sms, link_path, post_roll
from tests.support import csrf_in


def _move_in(client, world, unit=None, **body):
    data = {"name": "王芳", "phone": "13912345001", "relation": "tenant", "move_in": "2026-11-01"} | body
    return client.post(f"/api/v1/units/{(unit or world.unit_b).id}/residents", json=data, headers=world.token(world.manager))


def test_move_in_by_api_sends_activation_and_the_unit_lists_it(client, world):
    resp = _move_in(client, world)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["relation"] == "tenant" and body["move_in"] == "2026-11-01" and body["unit"]["id"] == world.unit_b.id
    assert len(activation_sms("+8613912345001")) == 1
    unit = client.get(f"/api/v1/units/{world.unit_b.id}/residents", headers=world.token(world.manager)).get_json()
    assert sorted(r["name"] for r in unit["current"]) == ["李娜", "王芳"] and unit["past"] == []
    again = _move_in(client, world)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_lives_here"
    # The same phone into another unit: the same person, no second SMS while their link is open.
    assert _move_in(client, world, unit=world.unit_a, relation="owner").status_code == 201
    assert db.session.scalar(db.select(db.func.count()).select_from(User).where(User.display_name == "王芳")) == 1
    assert len(activation_sms("+8613912345001")) == 1


def test_move_in_refuses_bad_fields_in_both_languages(client, world):
    resp = _move_in(client, world, phone="12345", relation="cousin", move_in="2026-13-40", name="")
    assert resp.status_code == 400
    fields = resp.get_json()["error"]["fields"]
    assert set(fields) == {"phone", "relation", "move_in", "name"}
    assert fields["move_in"]["messages"]["zh"].startswith("请按") and fields["move_in"]["messages"]["en"].startswith("Give")
    assert _move_in(client, world, move_in="0001-01-01").status_code == 400
    assert activation_sms() == []


def test_move_out_by_api_revokes_passes_and_the_last_one_takes_the_cars(client, world):
    p = world.make_pass(host=world.r2)
    r2 = world.token(world.r2)
    car = client.post("/api/v1/vehicles", json={"plate": "沪A12345", "unit_id": world.unit_b.id}, headers=r2).get_json()
    residency = world.r2.current_residencies()[0]
    headers = world.token(world.manager)
    future = client.post(f"/api/v1/residencies/{residency.id}/move-out", json={"date": "2999-01-01"}, headers=headers)
    assert future.status_code == 400 and "date" in future.get_json()["error"]["fields"]
    resp = client.post(f"/api/v1/residencies/{residency.id}/move-out", json={}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["revoked_passes"] == [p.id] and resp.get_json()["ends_at"]
    assert db.session.get(Pass, p.id).status == "revoked"
    assert db.session.get(Vehicle, car["id"]) is None  # nobody left in unit B
    unit = client.get(f"/api/v1/units/{world.unit_b.id}/residents", headers=headers).get_json()
    assert unit["current"] == [] and [r["name"] for r in unit["past"]] == ["李娜"]
    assert client.post(f"/api/v1/residencies/{residency.id}/move-out", json={}, headers=headers).status_code == 409


def test_cars_stay_while_someone_still_lives_there(client, world):
    _move_in(client, world)
    car = client.post(
        "/api/v1/vehicles", json={"plate": "沪A12345", "unit_id": world.unit_b.id}, headers=world.token(world.r2)
    ).get_json()
    residency = world.r2.current_residencies()[0]
    assert client.post(f"/api/v1/residencies/{residency.id}/move-out", headers=world.token(world.manager)).status_code == 200
    assert db.session.get(Vehicle, car["id"]) is not None


def test_unit_page_move_in_and_out(world, manager_client):
    page = manager_client.get(f"/team/units/{world.unit_a.id}?lang=zh")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "张伟" in html and "入住登记" in html
    bad = manager_client.post(
        f"/team/units/{world.unit_a.id}/move-in",
        data={"csrf_token": csrf_in(html), "name": "赵敏", "phone": "123", "relation": "family", "move_in": "2026-11-01"},
    )
    assert bad.status_code == 400 and "手机" in bad.get_data(as_text=True) and 'value="赵敏"' in bad.get_data(as_text=True)
    ok = manager_client.post(
        f"/team/units/{world.unit_a.id}/move-in",
        data={"csrf_token": csrf_in(html), "name": "赵敏", "phone": "13912345002", "relation": "family", "move_in": "2026-11-01"},
    )
    assert ok.status_code == 302 and len(activation_sms("+8613912345002")) == 1
    html = manager_client.get(f"/team/units/{world.unit_a.id}?lang=en").get_data(as_text=True)
    assert "赵敏" in html and "Family member" in html and "Sent, waiting" in html
    p = world.make_pass()
    residency = world.r1.current_residencies()[0]
    before = manager_client.post(
        f"/team/units/{world.unit_a.id}/move-out/{residency.id}", data={"csrf_token": csrf_in(html), "date": "2026-01-01"}
    )
    assert before.status_code == 302 and "before the move-in" in manager_client.get(before.headers["Location"]).get_data(
        as_text=True
    )
    assert db.session.get(Pass, p.id).status == "active"
    today = re.search(r'name="date" value="([0-9-]+)"', html).group(1)
    out = manager_client.post(
        f"/team/units/{world.unit_a.id}/move-out/{residency.id}", data={"csrf_token": csrf_in(html), "date": today}
    )
    assert out.status_code == 302
    assert db.session.get(Pass, p.id).status == "revoked"
    assert db.session.get(Residency, residency.id).ends_at is not None
    html = manager_client.get(f"/team/units/{world.unit_a.id}?lang=en").get_data(as_text=True)
    assert "Lived here before" in html
    # Another unit's residency through this unit's address does not exist.
    other = world.r2.current_residencies()[0]
    assert (
        manager_client.post(f"/team/units/{world.unit_a.id}/move-out/{other.id}", data={"csrf_token": csrf_in(html)}).status_code
        == 404
    )


ROLL = (
    "building,unit,name,phone,relation,move_in\n"
    "A,1201,陈静,13912340001,owner,2026-01-02\n"
    "A,1201,=HYPERLINK(1),13912340002,family,2026-01-02\n"
    "B,0502,Mr Smith,+44 7911 123456,tenant,2026-03-01\n"
)


def _export(client, world, user):
    resp = client.get(f"/api/v1/sites/{world.site.slug}/residents/export.csv", headers=world.token(user))
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return resp.get_data(as_text=True)


def test_export_masked_without_the_right_and_unmasked_with_it_reimports_unchanged(client, app, world):
    world.r1.phone, world.r2.phone = "+8613900000001", "+8613900000002"  # the roll matches people by phone
    db.session.commit()
    post_roll(client, world, ROLL)
    masked = _export(client, world, world.manager)
    rows = list(csv.DictReader(io.StringIO(masked.lstrip("\ufeff"))))
    assert list(rows[0]) == ["building", "unit", "name", "phone", "relation", "move_in", "activated"]
    assert all("****" in r["phone"] for r in rows) and len(rows) == 5
    assert {r["activated"] for r in rows} == {"yes", "no"}
    assert "'=HYPERLINK(1)" in masked  # neutralised for spreadsheets
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "pii.export")).details["masked"] is True
    runner = app.test_cli_runner()
    assert runner.invoke(args=["residents", "export-right", world.manager.login]).exit_code == 0
    full = _export(client, world, world.manager)
    assert "13912340001" in full and "****" not in full
    again = post_roll(client, world, full).get_json()
    assert (again["created"], again["updated"], again["errors"]) == (0, 0, []) and again["unchanged"] == 5
    assert db.session.scalar(db.select(User).where(User.phone.is_not(None), User.display_name == "=HYPERLINK(1)"))
    # The masked export is refused row by row, never applied.
    refused = post_roll(client, world, masked).get_json()
    assert refused["applied"] is False and {e["field"] for e in refused["errors"]} == {"phone"}
    assert runner.invoke(args=["residents", "export-right", world.manager.login, "--revoke"]).exit_code == 0
    assert "****" in _export(client, world, world.manager)


def test_export_page_in_both_languages(client, world, manager_client):
    post_roll(client, world, ROLL)
    for lang in ("zh", "en"):
        resp = manager_client.get(f"/team/residents/export.csv?lang={lang}")
        assert resp.status_code == 200 and resp.get_data(as_text=True).lstrip("\ufeff").startswith("building,unit,name")


def test_roles_and_other_communities(client, app, world, resident_client, guard_client):
    from portal.accounts.operations import create_user

    residency = world.r1.current_residencies()[0]
    paths = [
        ("get", f"/api/v1/units/{world.unit_a.id}/residents"),
        ("post", f"/api/v1/units/{world.unit_a.id}/residents"),
        ("post", f"/api/v1/residencies/{residency.id}/move-out"),
        ("get", f"/api/v1/sites/{world.site.slug}/residents/export.csv"),
    ]
    for user in (world.r1, world.guard):
        for method, path in paths:
            assert getattr(client, method)(path, json={}, headers=world.token(user)).status_code == 403, path
    for c in (resident_client, guard_client):
        for path in ("/team/residents/", f"/team/units/{world.unit_a.id}", "/team/units/", "/team/residents/export.csv"):
            assert c.get(path).status_code == 403, path
    with app.test_request_context():
        other = create_user("manager9", world.PASSWORD, "manager", "别的经理", site=world.other_site)
        db.session.commit()
    for method, path in paths:
        assert getattr(client, method)(path, json={}, headers=world.token(other)).status_code == 404, path
    assert db.session.get(Residency, residency.id).ends_at is None


@pytest.mark.integration
def test_postgres_activation_export_and_reimport(pg_world, pg_app):
    """The bulk inserts of links and SMS, the activation and the round trip of the roll, on PostgreSQL."""
    client, world = pg_app.test_client(), pg_world
    world.r1.phone, world.r2.phone = "+8613900000001", "+8613900000002"
    db.session.commit()
    assert post_roll(client, world, ROLL).get_json()["created"] == 3
    assert len(activation_sms()) == 3
    path = link_path(activation_sms("+8613912340001")[0])
    page = client.get(path)
    data = {
        "csrf_token": csrf_in(page.get_data(as_text=True)),
        "password": "a long new passphrase",
        "confirm": "a long new passphrase",
    }
    assert client.post(path, data=data).status_code == 302
    assert pg_app.test_client().get(path).status_code == 410
    assert pg_app.test_cli_runner().invoke(args=["residents", "export-right", world.manager.login]).exit_code == 0
    full = _export(client, world, world.manager)
    again = post_roll(client, world, full).get_json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 5)


def test_administrators_grant_and_take_the_export_right(client, app, world):
    from portal.accounts.operations import create_user

    with app.test_request_context():
        admin = create_user("admin1", world.PASSWORD, "admin", "总管理员")
        db.session.commit()
    path = f"/api/v1/users/{world.manager.id}/export-right"
    assert client.put(path, headers=world.token(world.manager)).status_code == 403  # never one's own
    assert client.put(f"/api/v1/users/{world.guard.id}/export-right", headers=world.token(admin)).status_code == 404
    granted = client.put(path, headers=world.token(admin))
    assert granted.status_code == 200 and granted.get_json()["export_right"] is True
    assert "****" not in _export(client, world, world.manager)
    taken = client.delete(path, headers=world.token(admin))
    assert taken.get_json()["export_right"] is False
    actions = db.session.scalars(db.select(AuditEntry.details).where(AuditEntry.action == "resident.export_right")).all()
    assert [d["allowed"] for d in actions] == [True, False]


def test_administrators_grant_the_export_right_on_the_staff_page(client, world, admin_client, manager_client):
    post_roll(client, world, ROLL)
    assert "13912340001" not in _export(client, world, world.manager)
    page = admin_client.get("/staff/?lang=en").get_data(as_text=True)
    row = re.search(rf'<tr data-id="{world.manager.id}">.*?</tr>', page, re.S).group(0)
    assert "Allow full numbers" in row and "Masked" in row
    guard_row = re.search(rf'<tr data-id="{world.guard.id}">.*?</tr>', page, re.S).group(0)
    assert "Allow full numbers" not in guard_row  # guards never export the roll
    token = csrf_in(page)
    resp = admin_client.post(f"/staff/{world.manager.id}/export-right", data={"csrf_token": token, "allowed": "1"})
    assert resp.status_code == 302
    page = admin_client.get("/staff/").get_data(as_text=True)
    assert "may now export the roll with full phone numbers" in page and "Mask again" in page
    assert "13912340001" in _export(client, world, world.manager)
    # Managers see no such column and cannot grant it, to themselves or anyone.
    own = manager_client.get("/staff/?lang=en").get_data(as_text=True)
    assert "Roll export" not in own and "Allow full numbers" not in own
    mine = manager_client.post(f"/staff/{world.manager.id}/export-right", data={"csrf_token": csrf_in(own), "allowed": "1"})
    assert mine.status_code == 403
    assert (
        admin_client.post(f"/staff/{world.guard.id}/export-right", data={"csrf_token": token, "allowed": "1"}).status_code == 404
    )
    admin_client.post(f"/staff/{world.manager.id}/export-right", data={"csrf_token": token, "allowed": "0"})
    masked = _export(client, world, world.manager)
    assert "13912340001" not in masked and "****" in masked
    zh = admin_client.get("/staff/?lang=zh").get_data(as_text=True)
    assert "导出名册" in zh and "允许完整号码" in zh


def test_a_move_out_dated_back_leaves_a_newcomers_cars(client, world):
    from datetime import timedelta

    from portal.core.timeutil import utcnow

    residency = world.r2.current_residencies()[0]
    residency.starts_at = utcnow() - timedelta(days=30)
    db.session.commit()
    _move_in(client, world, move_in=(utcnow() - timedelta(days=1)).date().isoformat())
    newcomer = db.session.scalar(db.select(User).where(User.display_name == "王芳"))
    newcomer.password_hash = world.r2.password_hash  # activated, so they can log in and add a car
    db.session.commit()
    car = client.post(
        "/api/v1/vehicles", json={"plate": "沪A12345", "unit_id": world.unit_b.id}, headers=world.token(newcomer)
    ).get_json()
    day = (utcnow() - timedelta(days=3)).date().isoformat()
    resp = client.post(f"/api/v1/residencies/{residency.id}/move-out", json={"date": day}, headers=world.token(world.manager))
    assert resp.status_code == 200, resp.get_json()
    assert db.session.get(Vehicle, car["id"]) is not None


def test_a_manager_without_a_community_reaches_no_unit(client, app, world):
    """A missing site_id never widens the view: only administrators of every site see every community."""
    from portal.accounts.operations import create_user

    with app.test_request_context():
        loose = create_user("manager0", world.PASSWORD, "manager", "无小区经理")
        db.session.commit()
    headers = world.token(loose)
    residency = world.r1.current_residencies()[0]
    assert client.get(f"/api/v1/units/{world.unit_a.id}/residents", headers=headers).status_code == 404
    assert client.post(f"/api/v1/residencies/{residency.id}/move-out", json={}, headers=headers).status_code == 404
    assert client.post(f"/api/v1/residents/{world.r1.id}/activation", headers=headers).status_code == 404
    assert db.session.get(Residency, residency.id).ends_at is None
