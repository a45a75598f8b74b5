"""Residents create, list, view, revoke, extend and resend passes through the API."""

from datetime import timedelta

from conftest import pass_body

from portal.core.timeutil import utcnow
from portal.notify.models import Message


def test_create_pass_returns_link_and_queues_sms(client, world):
    resp = client.post("/api/v1/passes", json=pass_body(), headers=world.token(world.r1))
    assert resp.status_code == 201, resp.get_json()
    data = resp.get_json()
    assert data["status"] == "active"
    assert "/p/" in data["pass_url"]
    assert data["visitor"]["phone"] == "+8613812345678"
    msgs = Message.query.filter_by(pass_id=data["id"]).all()
    assert len(msgs) == 1 and msgs[0].status == "queued"
    assert data["pass_url"] in msgs[0].body


def test_list_view_revoke_extend(client, world):
    h = world.token(world.r1)
    pid = client.post("/api/v1/passes", json=pass_body(notify="none"), headers=h).get_json()["id"]
    assert [p["id"] for p in client.get("/api/v1/passes", headers=h).get_json()["items"]] == [pid]
    later = (utcnow() + timedelta(days=2)).isoformat()
    resp = client.post(f"/api/v1/passes/{pid}/extend", json={"valid_until": later}, headers=h)
    assert resp.status_code == 200
    assert resp.get_json()["valid_until"].startswith((utcnow() + timedelta(days=2)).astimezone().strftime("%Y-%m-%d")[:4])
    resp = client.post(f"/api/v1/passes/{pid}/revoke", json={"reason": "plans changed"}, headers=h)
    assert resp.get_json()["status"] == "revoked"
    assert client.post(f"/api/v1/passes/{pid}/extend", json={"valid_until": later}, headers=h).status_code == 409


def test_resend_shows_delivery_status(client, world):
    h = world.token(world.r1)
    pid = client.post("/api/v1/passes", json=pass_body(), headers=h).get_json()["id"]
    assert client.post(f"/api/v1/passes/{pid}/resend", headers=h).status_code == 202
    detail = client.get(f"/api/v1/passes/{pid}", headers=h).get_json()
    assert [m["purpose"] for m in detail["messages"]] == ["resend", "pass"]
    assert {m["status"] for m in detail["messages"]} == {"queued"}


def test_validation_errors_are_bilingual(client, world):
    body = pass_body(visitor={"name": "", "phone": "12345", "id_number": "110105194912310021", "plate": "京AI2345"})
    resp = client.post("/api/v1/passes", json=body, headers=world.token(world.r1))
    assert resp.status_code == 400
    fields = resp.get_json()["error"]["fields"]
    assert set(fields) >= {"visitor.name", "visitor.phone", "visitor.id_number", "visitor.plate"}
    idf = fields["visitor.id_number"]["messages"]
    assert "check digit" in idf["en"] and "校验" in idf["zh"]


def test_real_id_checksum_accepted_and_wrong_one_refused(client, world):
    h = world.token(world.r1)
    ok = client.post(
        "/api/v1/passes",
        json=pass_body(visitor={"name": "a", "phone": "13812345678", "id_number": "11010519491231002x"}),
        headers=h,
    )
    assert ok.status_code == 201
    bad = client.post(
        "/api/v1/passes",
        json=pass_body(visitor={"name": "a", "phone": "13812345678", "id_number": "110105194912310021"}),
        headers=h,
    )
    assert bad.status_code == 400


def test_floors_limited_to_hosts_building(client, world):
    h = world.token(world.r1)
    assert client.post("/api/v1/passes", json=pass_body(floors=[12, 1]), headers=h).status_code == 201
    resp = client.post("/api/v1/passes", json=pass_body(floors=[40]), headers=h)
    assert resp.status_code == 400 and "floors" in resp.get_json()["error"]["fields"]


def test_bad_json_gets_400_json(client, world):
    h = world.token(world.r1) | {"Content-Type": "application/json"}
    for raw in (b"{not json", b"[1,2]", b"\xff\xfe", b"null", b'"str"'):
        resp = client.post("/api/v1/passes", data=raw, headers=h)
        assert resp.status_code == 400, raw
        assert resp.get_json()["error"]["code"] == "bad_json"


def test_hostile_strings_never_500(client, world):
    h = world.token(world.r1)
    for name in ("\u202egnp.exe", "x" * 10000, "１２３", "😀" * 10, "a\x00b", "<script>alert(1)</script>"):
        resp = client.post("/api/v1/passes", json=pass_body(visitor={"name": name}, notify="none"), headers=h)
        assert resp.status_code in (201, 400), name
        assert resp.is_json


def test_huge_ids_and_offsets_are_not_500(client, world):
    h = world.token(world.r1)
    huge = 2**70
    assert client.get(f"/api/v1/passes/{huge}", headers=h).status_code == 404
    assert client.get(f"/api/v1/passes?offset={huge}", headers=h).status_code == 200
    resp = client.post(
        "/api/v1/residencies", headers=world.token(world.manager), json={"unit_id": huge, "relation": "owner", "login": "someone"}
    )
    assert resp.status_code == 400
    assert client.post(f"/api/v1/residencies/{huge}/end", headers=world.token(world.manager)).status_code == 404


def test_staff_listing_of_passes_is_audited(client, world):
    from portal.audit.models import AuditEntry
    from portal.extensions import db

    world.make_pass()
    assert client.get("/api/v1/passes", headers=world.token(world.guard)).status_code == 200
    rows = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "pii.view")).all()
    assert rows and rows[-1].actor_id == world.guard.id


def test_status_filter_pages_over_matching_passes_only(client, world):
    from portal.extensions import db
    from portal.passes.operations import revoke_pass

    h = world.token(world.r1)
    now = utcnow()
    revoked = [world.make_pass() for _ in range(3)]
    for p in revoked:
        revoke_pass(p, reason="plans changed")
    db.session.commit()
    used_up = world.make_pass(max_entries=1)
    used_up.uses = 1
    db.session.commit()
    pending = world.make_pass(valid_from=now + timedelta(days=1), valid_until=now + timedelta(days=2))
    expired = world.make_pass(valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1))
    active = [world.make_pass() for _ in range(3)]  # the newest: a page of 2 unfiltered holds only these

    def ids(query):
        resp = client.get(f"/api/v1/passes?{query}", headers=h)
        assert resp.status_code == 200, resp.get_json()
        return [p["id"] for p in resp.get_json()["items"]]

    assert ids("status=revoked&limit=2") == [revoked[2].id, revoked[1].id]
    assert ids("status=revoked&limit=2&offset=2") == [revoked[0].id]
    assert ids("status=active") == [p.id for p in reversed(active)]
    assert ids("status=used_up") == [used_up.id]
    assert ids("status=pending") == [pending.id]
    assert ids("status=expired") == [expired.id]
    for item in client.get("/api/v1/passes?status=revoked", headers=h).get_json()["items"]:
        assert item["status"] == "revoked"


def test_unknown_status_filter_is_a_bilingual_400(client, world):
    resp = client.get("/api/v1/passes?status=bogus", headers=world.token(world.r1))
    assert resp.status_code == 400
    field = resp.get_json()["error"]["fields"]["status"]
    assert field["code"] == "invalid_status"
    assert "active" in field["messages"]["en"] and field["messages"]["zh"].startswith("只能是以下之一")
