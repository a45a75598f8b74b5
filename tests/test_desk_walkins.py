"""Walk-ins and items: the host answers by SMS link or in the portal; guards need a reason; timeouts are recorded."""

import re
from datetime import timedelta

import pytest
from desk_support import csrf_from, login_page

from portal.audit.models import AuditEntry
from portal.core.timeutil import utcnow
from portal.desk.models import DeskException
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.notify.models import Message
from portal.passes.models import Pass
from portal.walkins import operations as walkins
from portal.walkins.models import WalkIn


def _walk_in(client, world, **over):
    body = {
        "name": "赵六",
        "phone": "13900001111",
        "id_number": "11010519491231002x",
        "plate": "京A12345",
        "unit_id": world.unit_a.id,
        "gate_id": world.gate.id,
        "purpose": "送文件",
    }
    body.update(over)
    return client.post("/api/v1/desk/walk-ins", json=body, headers=world.token(world.guard))


def _with_phone(world):
    world.r1.phone = "+8613700001234"
    db.session.commit()


def test_walk_in_asks_host_by_sms_and_host_approves_in_portal(client, world):
    _with_phone(world)
    resp = _walk_in(client, world)
    assert resp.status_code == 201, resp.get_json()
    w = resp.get_json()
    assert w["status"] == "pending" and w["visitor"]["id_number"] == "110105********002X"
    sms = db.session.scalars(db.select(Message).where(Message.purpose == "desk.w")).one()
    assert sms.to == "+8613700001234"
    assert "赵六" in sms.body and "/host/a/w/" in sms.body
    pending = client.get("/api/v1/approvals", headers=world.token(world.r1)).get_json()
    assert [x["id"] for x in pending["walk_ins"]] == [w["id"]]
    assert client.get("/api/v1/approvals", headers=world.token(world.r2)).get_json()["walk_ins"] == []
    assert client.post(f"/api/v1/approvals/walk-ins/{w['id']}/approve", headers=world.token(world.r2)).status_code == 404
    done = client.post(f"/api/v1/approvals/walk-ins/{w['id']}/approve", headers=world.token(world.r1)).get_json()
    assert done["status"] == "approved" and done["approved_by"] == "host"
    p = db.session.get(Pass, done["pass_id"])
    assert p.max_entries == 1 and p.valid_until - p.valid_from == timedelta(hours=2) and p.host_id == world.r1.id
    ev = db.session.get(AccessEvent, done["event_id"])
    assert (ev.method, ev.decision, ev.approved_by, ev.pass_id) == ("walk_in", "grant", "host", p.id)
    assert client.post(f"/api/v1/approvals/walk-ins/{w['id']}/refuse", headers=world.token(world.r1)).status_code == 409


def test_sms_link_page_needs_csrf_and_records_refusal(client, world):
    _with_phone(world)
    wid = _walk_in(client, world).get_json()["id"]
    link = re.search(r"(/host/a/w/[\w-]+)", db.session.scalars(db.select(Message)).first().body).group(1)
    page = client.get(link)
    assert page.status_code == 200 and "赵六" in page.get_data(as_text=True)
    assert client.post(link, data={"action": "refuse"}).status_code == 403  # no CSRF token
    token = csrf_from(client, link)
    assert client.post(link, data={"action": "refuse", "csrf_token": token}).status_code == 302
    w = db.session.get(WalkIn, wid)
    assert w.status == "refused"
    assert db.session.get(AccessEvent, w.event_id).decision == "deny"
    assert client.get("/host/a/w/not-a-real-token").status_code == 404


def test_guard_approval_needs_a_written_reason_and_counts_in_the_share(client, world):
    h = world.token(world.guard)
    wid = _walk_in(client, world).get_json()["id"]
    assert client.post(f"/api/v1/desk/walk-ins/{wid}/approve", json={}, headers=h).status_code == 400
    assert client.post(f"/api/v1/desk/walk-ins/{wid}/approve", json={"reason": "ok"}, headers=h).status_code == 400
    done = client.post(f"/api/v1/desk/walk-ins/{wid}/approve", json={"reason": "业主电话确认，手机没电"}, headers=h).get_json()
    assert done["approved_by"] == "guard" and done["guard_reason"] == "业主电话确认，手机没电"
    audit = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "desk.walkin.approve")).one()
    assert audit.actor_id == world.guard.id and audit.details["approved_by"] == "guard"
    stats = client.get("/api/v1/desk/walk-ins/stats", headers=h).get_json()
    assert (stats["total"], stats["by_guard"], stats["guard_share"], stats["alert"]) == (1, 1, 1.0, True)
    for _ in range(9):
        other = _walk_in(client, world, name="访客", id_number=None, phone=None, plate=None).get_json()["id"]
        client.post(f"/api/v1/approvals/walk-ins/{other}/approve", headers=world.token(world.r1))
    stats = client.get("/api/v1/desk/walk-ins/stats", headers=h).get_json()
    assert (stats["total"], stats["guard_share"], stats["alert"]) == (10, 0.1, False)


def test_unanswered_walk_ins_and_items_time_out(client, world):
    wid = _walk_in(client, world).get_json()["id"]
    iid = client.post(
        "/api/v1/desk/items",
        json={"unit_id": world.unit_a.id, "direction": "in", "description": "瓷砖 20 箱"},
        headers=world.token(world.guard),
    ).get_json()["id"]
    stuck = _walk_in(client, world).get_json()["id"]
    db.session.get(WalkIn, stuck).status = "deciding"  # a refused claim an earlier release committed
    db.session.commit()
    with world.app.test_request_context():
        assert walkins.expire_pending(now=utcnow() + timedelta(minutes=16)) == 3
        db.session.commit()
    w = db.session.get(WalkIn, wid)
    assert w.status == "expired" and db.session.get(WalkIn, stuck).status == "expired"
    ev = db.session.get(AccessEvent, w.event_id)
    assert (ev.decision, ev.reason, ev.details["outcome"]) == ("deny", "expired", "timeout")
    assert client.get(f"/api/v1/desk/items/{iid}", headers=world.token(world.guard)).get_json()["status"] == "expired"


def test_watchlist_exact_match_refuses_and_fuzzy_name_is_flagged(client, world):
    m = world.token(world.manager)
    client.post("/api/v1/watchlist", json={"kind": "person", "name": "钱七", "phone": "13900002222"}, headers=m)
    client.post(
        "/api/v1/watchlist", json={"kind": "person", "name": "Zhang Sanfeng", "id_number": "11010519491231002X"}, headers=m
    )
    refused = _walk_in(client, world, name="路人", phone="139 0000 2222", id_number=None).get_json()
    assert refused["status"] == "refused"
    flagged = _walk_in(client, world, name="zhang  sanfeng", phone=None, id_number=None, plate=None).get_json()
    assert flagged["status"] == "pending"  # a name alone never denies
    kinds = {x.kind: x for x in db.session.scalars(db.select(DeskException))}
    assert set(kinds) == {"watchlist", "name_match"}
    assert kinds["name_match"].details["walk_in_id"] == flagged["id"]


def test_walk_in_validation(client, world):
    resp = _walk_in(client, world, name="", phone="123", id_number="110105194912310021", unit_id=999)
    assert resp.status_code == 400
    assert set(resp.get_json()["error"]["fields"]) == {"name", "phone", "id_number", "unit_id"}
    assert _walk_in(client, world, unit_id=world.unit_b.id, gate_id=10**6).status_code == 400


def test_items_host_approves_from_the_portal_page(client, world):
    iid = client.post(
        "/api/v1/desk/items",
        json={"unit_id": world.unit_b.id, "direction": "out", "description": "旧沙发", "quantity": 1, "carrier_name": "搬家公司"},
        headers=world.token(world.guard),
    ).get_json()["id"]
    login_page(client, world, world.r2)
    page = client.get("/host/approvals")
    assert "旧沙发" in page.get_data(as_text=True)
    client.post(f"/host/approvals/i/{iid}", data={"action": "approve", "csrf_token": csrf_from(client, "/host/approvals")})
    item = client.get(f"/api/v1/desk/items/{iid}", headers=world.token(world.guard)).get_json()
    assert item["status"] == "approved" and item["approved_by"] == "host"


def test_guard_registers_walk_in_from_the_desk_page(client, world):
    login_page(client, world, world.guard)
    token = csrf_from(client, "/desk/walk-ins")
    resp = client.post("/desk/walk-ins", data={"csrf_token": token, "name": "<b>孙八</b>", "unit_id": str(world.unit_a.id)})
    assert resp.status_code == 302
    html = client.get("/desk/walk-ins").get_data(as_text=True)
    assert "&lt;b&gt;孙八&lt;/b&gt;" in html
    bad = client.post("/desk/walk-ins", data={"csrf_token": token, "name": "", "unit_id": "x"})
    assert bad.status_code == 400


def test_a_refused_desk_approval_leaves_the_walk_in_pending_on_the_page(client, world):
    """A too-short reason on the desk page is refused and the walk-in can still be approved or refused."""
    from portal.walkins.models import WalkIn

    login_page(client, world, world.guard)
    token = csrf_from(client, "/desk/walk-ins")
    client.post("/desk/walk-ins", data={"csrf_token": token, "name": "赵六", "unit_id": str(world.unit_a.id)})
    wid = db.session.scalars(db.select(WalkIn.id).order_by(WalkIn.id.desc())).first()
    resp = client.post(f"/desk/walk-ins/{wid}/approve", data={"csrf_token": token, "reason": "ok"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(WalkIn, wid).status == "pending"
    html = client.get("/desk/walk-ins", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert f"/desk/walk-ins/{wid}/approve" in html and "等待业主确认" in html and "未生效" not in html
    client.post(f"/desk/walk-ins/{wid}/approve", data={"csrf_token": token, "reason": "业主电话确认，手机没电"})
    db.session.expire_all()
    assert db.session.get(WalkIn, wid).status == "approved"


def test_desk_form_errors_name_the_field_as_the_form_does(client, world):
    """A bad phone on the walk-in page reads "电话: …", not the raw field name."""
    login_page(client, world, world.guard)
    token = csrf_from(client, "/desk/walk-ins")
    resp = client.post(
        "/desk/walk-ins",
        headers={"Accept-Language": "zh-CN"},
        data={"csrf_token": token, "name": "赵六", "phone": "123", "unit_id": str(world.unit_a.id)},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "电话: " in html and "phone:" not in html


@pytest.mark.integration
def test_ids_beyond_32_bits_are_field_errors_on_postgres(pg_app, pg_world):
    """PostgreSQL cannot bind 2**40 to an INTEGER column (that was a 500): the unit and gate checks refuse it first."""
    client = pg_app.test_client()
    resp = _walk_in(client, pg_world, unit_id=2**40)
    assert resp.status_code == 400 and resp.get_json()["error"]["fields"]["unit_id"]["code"] == "invalid_unit"
    item = {"unit_id": pg_world.unit_a.id, "direction": "in", "description": "沙发", "gate_id": 2**40}
    resp = client.post("/api/v1/desk/items", json=item, headers=pg_world.token(pg_world.guard))
    assert resp.status_code == 400 and resp.get_json()["error"]["fields"]["gate_id"]["code"] == "unknown_gate"
    assert db.session.scalar(db.select(db.func.count()).select_from(WalkIn)) == 0
