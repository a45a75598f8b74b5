"""Managers move residents in and out; moving out revokes the resident's passes at once."""

from portal.extensions import db
from portal.passes.models import Pass


def test_move_in_new_resident_then_move_out_revokes(client, world):
    mh = world.token(world.manager)
    resp = client.post(
        "/api/v1/residencies",
        headers=mh,
        json={
            "unit_id": world.unit_a.id,
            "relation": "family",
            "login": "kid1",
            "password": "family pass phrase",
            "name": "张小明",
            "phone": "13912345678",
        },
    )
    assert resp.status_code == 201, resp.get_json()
    rid = resp.get_json()["id"]
    token = client.post("/api/v1/auth/token", json={"login": "kid1", "password": "family pass phrase"}).get_json()["token"]
    from conftest import pass_body

    pid = client.post("/api/v1/passes", json=pass_body(notify="none"), headers={"Authorization": f"Bearer {token}"}).get_json()[
        "id"
    ]
    listed = client.get("/api/v1/residencies", headers=mh).get_json()["items"]
    assert rid in [r["id"] for r in listed]
    out = client.post(f"/api/v1/residencies/{rid}/end", headers=mh)
    assert out.status_code == 200 and out.get_json()["revoked_passes"] == [pid]
    assert db.session.get(Pass, pid).status == "revoked"
    assert client.post(f"/api/v1/residencies/{rid}/end", headers=mh).status_code == 409


def test_residents_api_roles_and_sites(client, world):
    from portal.accounts.operations import create_user

    other_mgr = create_user("mgr-x", world.PASSWORD, "manager", "x", site=world.other_site)
    db.session.commit()
    rid = world.r1.residencies[0].id
    assert client.get("/api/v1/residencies", headers=world.token(world.r1)).status_code == 403
    assert client.get("/api/v1/residencies", headers=world.token(world.guard)).status_code == 403
    assert client.post(f"/api/v1/residencies/{rid}/end", headers=world.token(other_mgr)).status_code == 404
    bad = client.post(
        "/api/v1/residencies", headers=world.token(world.manager), json={"unit_id": 99999, "relation": "cousin", "login": "x"}
    )
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["fields"]) >= {"unit_id", "relation", "login"}
    weak = client.post(
        "/api/v1/residencies",
        headers=world.token(world.manager),
        json={"unit_id": world.unit_a.id, "relation": "owner", "login": "newbie", "password": "password", "name": "n"},
    )
    assert weak.status_code == 400


def test_manager_cannot_pull_in_another_communitys_resident(client, world):
    from portal.accounts.operations import create_user
    from portal.sites import operations as places

    b = places.add_building(world.other_site, "X", "X栋", 1, 5)
    u = places.add_unit(b, "101", 1)
    stranger = create_user("stranger", world.PASSWORD, "resident", "外人")
    places.move_in(stranger, u, "owner")
    db.session.commit()
    resp = client.post(
        "/api/v1/residencies",
        headers=world.token(world.manager),
        json={"unit_id": world.unit_a.id, "relation": "family", "login": "stranger"},
    )
    assert resp.status_code == 400 and "外人" not in resp.get_data(as_text=True)
    assert resp.get_json()["error"]["fields"]["login"]["code"] == "login_taken"
