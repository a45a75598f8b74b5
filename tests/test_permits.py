"""Works permits: applying by role, documents, approval issuing the workers' passes, refusal and suspension."""

import io

from gate_support import reason
from permits_support import ID_OK, application, apply
from PIL import Image

from portal.accounts.operations import create_user
from portal.extensions import db
from portal.passes.models import Pass
from portal.permits.models import Permit


def _png():
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _other_manager(world):
    with world.app.test_request_context():
        user = create_user("manager2", world.PASSWORD, "manager", "别处经理", site=world.other_site)
        db.session.commit()
    return user


def test_resident_applies_manager_approves_and_each_worker_and_van_gets_a_pass(client, world):
    resp = apply(client, world, world.r1)
    assert resp.status_code == 201, resp.get_json()
    permit = resp.get_json()
    assert permit["status"] == "pending" and permit["unit"]["id"] == world.unit_a.id
    # ID numbers and phones are masked even for the applicant's own view.
    assert [w["id_number"] for w in permit["workers"]] == ["110105********002X", "110105********0016"]
    assert permit["workers"][0]["phone"] == "+86 139****2222"
    stored = db.session.get(Permit, permit["id"])
    assert stored.workers[0].id_number == ID_OK  # decrypted on read, encrypted at rest

    assert client.post(f"/api/v1/permits/{permit['id']}/approve", headers=world.token(world.guard)).status_code == 403
    assert client.post(f"/api/v1/permits/{permit['id']}/approve", headers=world.token(world.r1)).status_code == 403
    resp = client.post(f"/api/v1/permits/{permit['id']}/approve", json={}, headers=world.token(world.manager))
    assert resp.status_code == 200 and resp.get_json()["status"] == "approved"
    passes = db.session.scalars(db.select(Pass).where(Pass.permit_id == permit["id"]).order_by(Pass.id)).all()
    assert [(p.kind, p.status, p.visitor_name, p.plate) for p in passes] == [
        ("contractor", "active", "王五", None),
        ("contractor", "active", "赵六", None),
        ("contractor", "active", "安心装修公司 京A12345", "京A12345"),
    ]
    assert all(p.schedule == {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"} for p in passes)
    assert all(p.work_area == "厨房和卫生间" for p in passes)
    assert [w["pass_id"] for w in resp.get_json()["workers"]] == [passes[0].id, passes[1].id]
    # The van's pass opens the barrier.
    _, barrier = world.device("barrier-1", kind="barrier", gates=[world.car_gate])
    assert reason(client, barrier, plate="京A12345") == ("grant", "ok")
    again = client.post(f"/api/v1/permits/{permit['id']}/approve", headers=world.token(world.manager))
    assert again.status_code == 409


def test_residents_see_only_their_own_permits_and_other_communities_get_404(client, world):
    mine = apply(client, world, world.r1).get_json()
    assert client.get("/api/v1/permits", headers=world.token(world.r2)).get_json()["items"] == []
    assert client.get(f"/api/v1/permits/{mine['id']}", headers=world.token(world.r2)).status_code == 404
    assert [p["id"] for p in client.get("/api/v1/permits", headers=world.token(world.r1)).get_json()["items"]] == [mine["id"]]
    assert [p["id"] for p in client.get("/api/v1/permits", headers=world.token(world.guard)).get_json()["items"]] == [mine["id"]]
    elsewhere = _other_manager(world)
    assert client.get(f"/api/v1/permits/{mine['id']}", headers=world.token(elsewhere)).status_code == 404
    assert client.post(f"/api/v1/permits/{mine['id']}/approve", headers=world.token(elsewhere)).status_code == 404
    assert client.get("/api/v1/permits", headers=world.token(elsewhere)).get_json()["items"] == []
    # A resident applies only for their own unit; a guard does not apply at all.
    assert apply(client, world, world.r1, unit_id=world.unit_b.id).status_code == 400
    assert apply(client, world, world.guard, unit_id=world.unit_a.id).status_code == 403


def test_manager_applies_only_for_a_vacant_unit(client, world):
    from portal.sites import operations as places

    with world.app.test_request_context():
        empty = places.add_unit(world.bldg_a, "0301", 3)
        db.session.commit()
    occupied = apply(client, world, world.manager, unit_id=world.unit_a.id)
    assert occupied.status_code == 409 and occupied.get_json()["error"]["code"] == "unit_occupied"
    resp = apply(client, world, world.manager, unit_id=empty.id)
    assert resp.status_code == 201 and resp.get_json()["unit"]["id"] == empty.id
    assert apply(client, world, _other_manager(world), unit_id=empty.id).status_code == 400


def test_bad_workers_and_dates_are_400_with_fields_in_both_languages(client, world):
    bad = apply(client, world, world.r1, workers=[{"name": "王五", "id_number": "110105194912310021"}], ends_on="2020-01-01")
    assert bad.status_code == 400
    fields = bad.get_json()["error"]["fields"]
    assert {"workers.0.id_number", "ends_on"} <= set(fields)
    assert set(fields["workers.0.id_number"]["messages"]) == {"en", "zh"}
    assert apply(client, world, world.r1, workers=[]).status_code == 400
    assert apply(client, world, world.r1, workers="x" * 10000).status_code == 400
    assert apply(client, world, world.r1, daily_start="25:00").status_code == 400
    assert apply(client, world, world.r1, plates=["not a plate!"]).status_code == 400
    assert db.session.scalar(db.select(db.func.count(Permit.id))) == 0


def test_documents_photos_and_pdfs_are_sniffed_stored_and_served(client, world):
    body = application(world)
    form = {k: v for k, v in body.items() if k not in ("workers", "plates")}
    import json

    form["workers"] = json.dumps(body["workers"])
    form["licence"] = (io.BytesIO(PDF), "licence.pdf")
    form["worker_ids"] = [(io.BytesIO(_png()), "id1.png")]
    resp = client.post("/api/v1/permits", data=form, headers=world.token(world.r1), content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    permit = resp.get_json()
    assert [(d["kind"], d["content_type"]) for d in permit["documents"]] == [
        ("licence", "application/pdf"),
        ("worker_id", "image/png"),
    ]
    doc = client.get(
        f"/api/v1/permits/{permit['id']}/documents/{permit['documents'][0]['id']}", headers=world.token(world.manager)
    )
    assert doc.status_code == 200 and doc.data == PDF and doc.headers["X-Content-Type-Options"] == "nosniff"
    other = client.get(f"/api/v1/permits/{permit['id']}/documents/{permit['documents'][0]['id']}", headers=world.token(world.r2))
    assert other.status_code == 404
    # A file that claims to be a PDF by name only, or an executable, is refused and nothing is stored.
    form["licence"] = (io.BytesIO(b"MZ\x90\x00 not a pdf"), "licence.pdf")
    form["worker_ids"] = []
    bad = client.post("/api/v1/permits", data=form, headers=world.token(world.r1), content_type="multipart/form-data")
    assert bad.status_code == 400 and "documents" in bad.get_json()["error"]["fields"]
    assert db.session.scalar(db.select(db.func.count(Permit.id))) == 1


def test_a_photo_document_with_too_many_pixels_says_so_not_that_it_is_no_photo(client, world):
    """A 5000 x 5000 PNG scan is a photo: the applicant reads the pixel limit, and no permit is stored."""
    import json

    from photo_bombs import zero_png

    body = application(world)
    form = {k: v for k, v in body.items() if k not in ("workers", "plates")}
    form["workers"] = json.dumps(body["workers"])
    form["licence"] = (io.BytesIO(zero_png(5000, 5000)), "licence.png")
    resp = client.post("/api/v1/permits", data=form, headers=world.token(world.r1), content_type="multipart/form-data")
    assert resp.status_code == 400
    field = resp.get_json()["error"]["fields"]["documents"]
    assert field["code"] == "photo_pixels" and "4096 x 4096" in field["messages"]["en"]
    assert db.session.scalar(db.select(db.func.count(Permit.id))) == 0


def test_refusal_needs_a_reason_and_the_applicant_reads_it(client, world):
    permit = apply(client, world, world.r1).get_json()
    url = f"/api/v1/permits/{permit['id']}/refuse"
    assert client.post(url, json={}, headers=world.token(world.manager)).status_code == 400
    resp = client.post(url, json={"reason": "周末不允许施工"}, headers=world.token(world.manager))
    assert resp.status_code == 200 and resp.get_json()["status"] == "refused"
    seen = client.get(f"/api/v1/permits/{permit['id']}", headers=world.token(world.r1)).get_json()
    assert seen["decision_reason"] == "周末不允许施工"
    assert db.session.scalar(db.select(db.func.count(Pass.id)).where(Pass.permit_id == permit["id"])) == 0


def test_the_sites_list_shows_permits_waiting_for_a_decision_first(client, world, manager_client):
    waiting = apply(client, world, world.r1, company="甲装修公司").get_json()
    decided = apply(client, world, world.r1, company="乙装修公司").get_json()
    resp = client.post(f"/api/v1/permits/{decided['id']}/approve", json={}, headers=world.token(world.manager))
    assert resp.status_code == 200 and waiting["status"] == "pending"
    page = manager_client.get("/permits/").get_data(as_text=True)
    assert page.index("甲装修公司") < page.index("乙装修公司")
