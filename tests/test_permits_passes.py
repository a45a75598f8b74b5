"""Contractor approval at the gate (SQLite and PostgreSQL), suspension revoking every worker's pass on the devices, freight."""

import time
from datetime import timedelta

from bridge_support import add_device, expected_keys, run_bridge
from conftest import each_database, pass_body
from gate_support import events, qr_from_png, reason
from permits_support import apply

from access_bridge import reconciler as rc
from access_bridge.drivers import simulator
from portal.bridge.models import DeviceCredential
from portal.core.timeutil import utcnow
from portal.devices.models import Device
from portal.extensions import db
from portal.notify.models import Message
from portal.passes import codes
from portal.passes.models import Pass


def _contractor(days, **over):
    now = utcnow()
    window = {"valid_from": (now - timedelta(minutes=1)).isoformat(), "valid_until": (now + timedelta(days=days)).isoformat()}
    body = pass_body(kind="contractor", **{**window, **over})
    body["visitor"]["id_number"] = "11010519491231002X"
    return body


@each_database
def test_long_contractor_pass_awaits_approval_and_the_gate_says_not_approved(client, world):
    _, gate = world.device()
    short = client.post("/api/v1/passes", json=_contractor(3), headers=world.token(world.r1)).get_json()
    assert short["status"] == "active"
    resp = client.post("/api/v1/passes", json=_contractor(30), headers=world.token(world.r1))
    assert resp.status_code == 201
    long = resp.get_json()
    assert long["status"] == "awaiting_approval"
    p = db.session.get(Pass, long["id"])
    # No SMS while waiting: the link would only show a pass the gate refuses.
    assert db.session.scalar(db.select(db.func.count(Message.id)).where(Message.pass_id == p.id)) == 0
    # The visitor's page shows no code while it waits; a code made anyway (a copied secret) is still refused.
    assert client.get(f"/p/{p.link_token}/qr.png").status_code == 410
    now = time.time()
    assert reason(client, gate, qr=codes.shown_qr_text(p, now)) == ("deny", "not_approved")
    assert reason(client, gate, code=codes.keypad_code(p, now)) == ("deny", "not_approved")
    assert events(pass_id=p.id)[-1].reason == "not_approved"
    url = f"/api/v1/passes/{p.id}/approve"
    assert client.post(url, headers=world.token(world.guard)).status_code == 403
    assert client.post(url, headers=world.token(world.r1)).status_code == 403
    approved = client.post(url, headers=world.token(world.manager))
    assert approved.status_code == 200 and approved.get_json()["status"] == "active"
    assert client.post(url, headers=world.token(world.manager)).status_code == 409
    assert reason(client, gate, qr=qr_from_png(client, p)) == ("grant", "ok")
    assert db.session.scalar(db.select(db.func.count(Message.id)).where(Message.pass_id == p.id)) == 1
    # The site's limit is a setting; the manager of another community cannot approve.
    from portal.accounts.operations import create_user
    from portal.sites.models import Site

    site = db.session.get(Site, world.site.id)
    site.settings = {**(site.settings or {}), "contractor_max_days": 40}
    db.session.commit()
    assert client.post("/api/v1/passes", json=_contractor(30), headers=world.token(world.r1)).get_json()["status"] == "active"
    waiting = client.post("/api/v1/passes", json=_contractor(60), headers=world.token(world.r1)).get_json()
    with world.app.test_request_context():
        elsewhere = create_user("manager2", world.PASSWORD, "manager", "别处经理", site=world.other_site)
        db.session.commit()
    assert client.post(f"/api/v1/passes/{waiting['id']}/approve", headers=world.token(elsewhere)).status_code == 404
    listed = client.get("/api/v1/passes?status=awaiting_approval", headers=world.token(world.manager)).get_json()["items"]
    assert [x["id"] for x in listed] == [waiting["id"]]
    # A community that switches the approval off issues long contractor passes at once.
    site.settings = {**(site.settings or {}), "contractor_passes_need_approval": False}
    db.session.commit()
    assert client.post("/api/v1/passes", json=_contractor(60), headers=world.token(world.r1)).get_json()["status"] == "active"


def test_contractor_pass_outside_the_units_permit_awaits_approval(client, world):
    permit = apply(client, world, world.r1).get_json()
    client.post(f"/api/v1/permits/{permit['id']}/approve", headers=world.token(world.manager))
    inside = client.post("/api/v1/passes", json=_contractor(2), headers=world.token(world.r1)).get_json()
    assert inside["status"] == "active"
    now = utcnow()
    late = _contractor(1, valid_from=(now + timedelta(days=8)).isoformat(), valid_until=(now + timedelta(days=9)).isoformat())
    assert client.post("/api/v1/passes", json=late, headers=world.token(world.r1)).get_json()["status"] == "awaiting_approval"


def test_suspending_a_permit_revokes_every_workers_pass_and_the_bridge_removes_them(app, client, world):
    device = add_device(world, "gate")
    permit = apply(client, world, world.r1).get_json()
    client.post(f"/api/v1/permits/{permit['id']}/approve", headers=world.token(world.manager))
    passes = db.session.scalars(db.select(Pass).where(Pass.permit_id == permit["id"])).all()
    workers = [p for p in passes if p.plate is None]
    assert len(workers) == 2
    run_bridge(app)
    sim = simulator.device(device.id)
    assert expected_keys(*workers) <= sim.keys()

    url = f"/api/v1/permits/{permit['id']}/suspend"
    assert client.post(url, json={"reason": "x"}, headers=world.token(world.guard)).status_code == 403
    assert client.post(url, json={}, headers=world.token(world.manager)).status_code == 400  # a reason is required
    resp = client.post(url, json={"reason": "噪音投诉，暂停施工"}, headers=world.token(world.manager))
    assert resp.status_code == 200 and resp.get_json()["status"] == "suspended"
    db.session.expire_all()
    assert {p.status for p in db.session.scalars(db.select(Pass).where(Pass.permit_id == permit["id"]))} == {"revoked"}
    # The reconciler plans a removal for each worker's credential on the device ...
    rc.plan(db.session, [db.session.get(Device, device.id)])
    db.session.commit()
    planned = db.session.scalars(
        db.select(DeviceCredential).where(
            DeviceCredential.device_id == device.id, DeviceCredential.key.in_(expected_keys(*workers))
        )
    ).all()
    assert {(c.desired, c.status) for c in planned} == {("absent", "pending")} and len(planned) == 2
    # ... and the push removes them.
    run_bridge(app)
    assert not expected_keys(*workers) & simulator.device(device.id).keys()
    _, gate = world.device("gate-2")
    assert reason(client, gate, qr=codes.shown_qr_text(workers[0], time.time())) == ("deny", "revoked")
    _, barrier = world.device("barrier-1", kind="barrier", gates=[world.car_gate])
    assert reason(client, barrier, plate="京A12345") == ("deny", "revoked")
    assert client.post(url, json={"reason": "again"}, headers=world.token(world.manager)).status_code == 409


def test_a_suspended_permit_resumes_with_new_passes_and_the_old_ones_stay_revoked(client, world, manager_client):
    from portal.permits.models import Permit
    from tests.support import csrf

    _, gate = world.device("gate-2")
    permit = apply(client, world, world.r1).get_json()
    base = f"/api/v1/permits/{permit['id']}"
    client.post(f"{base}/approve", headers=world.token(world.manager))
    old = db.session.scalars(db.select(Pass).where(Pass.permit_id == permit["id"], Pass.plate.is_(None))).all()
    assert client.post(f"{base}/resume", headers=world.token(world.manager)).status_code == 409  # not suspended
    client.post(f"{base}/suspend", json={"reason": "噪音投诉"}, headers=world.token(world.manager))
    assert client.post(f"{base}/resume", headers=world.token(world.guard)).status_code == 403
    assert client.post(f"{base}/resume", headers=world.token(world.r1)).status_code == 403
    # The manager resumes it from the permits page.
    page = manager_client.get("/permits/?lang=en").get_data(as_text=True)
    assert "Resume" in page
    resp = manager_client.post(
        f"/permits/{permit['id']}/resume", data={"csrf_token": csrf(manager_client, "/permits/"), "reason": "已整改"}
    )
    assert resp.status_code == 302
    assert client.get(base, headers=world.token(world.manager)).get_json()["status"] == "approved"
    db.session.expire_all()
    live = db.session.scalars(db.select(Pass).where(Pass.permit_id == permit["id"], Pass.status == "active")).all()
    assert len(live) == 3 and not {p.id for p in live} & {p.id for p in old}  # two workers and the van, all new
    now = time.time()
    assert reason(client, gate, qr=codes.shown_qr_text(old[0], now)) == ("deny", "revoked")
    worker = next(p for p in live if p.visitor_name == old[0].visitor_name)
    assert reason(client, gate, qr=codes.shown_qr_text(worker, now)) == ("grant", "ok")
    texts = db.session.scalars(db.select(Message).where(Message.pass_id == worker.id)).all()
    assert len(texts) == 1  # the worker with a phone gets the new pass by SMS
    # A permit whose dates have ended is not resumed: the works need a new permit.
    client.post(f"{base}/suspend", json={"reason": "again"}, headers=world.token(world.manager))
    row = db.session.get(Permit, permit["id"])
    row.starts_on, row.ends_on = row.starts_on - timedelta(days=20), row.starts_on - timedelta(days=10)
    db.session.commit()
    ended = client.post(f"{base}/resume", headers=world.token(world.manager))
    assert ended.status_code == 409 and ended.get_json()["error"]["code"] == "permit_ended"


def test_freight_vehicle_is_let_in_only_inside_its_window(client, world, monkeypatch):
    from gate_support import freeze

    _, barrier = world.device("barrier-1", kind="barrier", gates=[world.car_gate])
    now = utcnow()
    body = {
        "plate": "京B D12345",
        "company": "顺达物流",
        "purpose": "搬家",
        "valid_from": (now + timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(hours=3)).isoformat(),
    }
    assert client.post("/api/v1/freight", json=body, headers=world.token(world.guard)).status_code == 403
    resp = client.post("/api/v1/freight", json=body, headers=world.token(world.manager))
    assert resp.status_code == 201, resp.get_json()
    row = resp.get_json()
    assert row["plate"] == "京BD12345"
    assert reason(client, barrier, plate="京BD12345") == ("deny", "not_yet_valid")
    freeze(monkeypatch, now + timedelta(hours=2))
    assert reason(client, barrier, plate="京BD12345") == ("grant", "ok")
    assert events(method="plate")[-1].details == {"freight_approval_id": row["id"]}
    freeze(monkeypatch, now + timedelta(hours=4))
    assert reason(client, barrier, plate="京BD12345") == ("deny", "expired")
    # Another plate is refused and raised to the desk as today.
    assert reason(client, barrier, plate="京C99999") == ("deny", "unknown")
    board = client.get("/api/v1/desk/exceptions", headers=world.token(world.guard)).get_json()
    assert any(x["kind"] == "denied" for x in board["items"])
    freeze(monkeypatch, now + timedelta(hours=2))
    assert client.post(f"/api/v1/freight/{row['id']}/revoke", headers=world.token(world.manager)).status_code == 200
    assert reason(client, barrier, plate="京BD12345") == ("deny", "revoked")
    listed = client.get("/api/v1/freight", headers=world.token(world.guard)).get_json()["items"]
    assert [(x["id"], x["status"]) for x in listed] == [(row["id"], "revoked")]
    bad = client.post("/api/v1/freight", json={**body, "valid_until": body["valid_from"]}, headers=world.token(world.manager))
    assert bad.status_code == 400
