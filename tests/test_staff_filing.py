"""Complaints and help requests taken by staff (counter, phone, hotline), and goods logged for a unit nobody lives in."""

from feedback_support import filing, other_site_staff
from permits_support import apply

from portal.core.timeutil import parse_iso
from portal.extensions import db
from portal.feedback.models import Complaint


def _hours(c, field):
    return round((parse_iso(c[field]) - parse_iso(c["created_at"])).total_seconds() / 3600, 2)


def _file(client, world, user, **over):
    return client.post("/api/v1/complaints", json=filing(**over), headers=world.token(user))


def test_guard_files_for_a_resident_by_unit_or_phone_with_the_source(client, world):
    world.r2.phone = "+8613700003333"
    db.session.commit()
    resp = _file(client, world, world.guard, source="counter", unit_id=world.unit_a.id)
    assert resp.status_code == 201, resp.get_json()
    c = db.session.get(Complaint, resp.get_json()["id"])
    assert (c.source, c.author_id, c.unit_id, c.filed_by_id) == ("counter", world.r1.id, world.unit_a.id, world.guard.id)
    assert resp.get_json()["source"] == "counter"
    by_phone = _file(client, world, world.manager, source="hotline", phone="137 0000 3333")
    assert by_phone.status_code == 201
    c = db.session.get(Complaint, by_phone.get_json()["id"])
    assert (c.author_id, c.unit_id, c.source) == (world.r2.id, world.unit_b.id, "hotline")
    # The resident sees it among their own filings.
    mine = client.get("/api/v1/complaints", headers=world.token(world.r2)).get_json()["items"]
    assert [x["id"] for x in mine] == [c.id]


def test_staff_filing_needs_a_source_and_a_unit_of_the_community(client, world):
    assert _file(client, world, world.guard, unit_id=world.unit_a.id).status_code == 400  # no source
    assert _file(client, world, world.guard, source="email", unit_id=world.unit_a.id).status_code == 400
    assert _file(client, world, world.guard, source="phone").status_code == 400  # neither unit nor phone
    unknown = _file(client, world, world.guard, source="phone", phone="13700009999")
    assert unknown.status_code == 400 and "unit_id" in unknown.get_json()["error"]["fields"]
    assert _file(client, world, other_site_staff(world, "guard"), source="phone", unit_id=world.unit_a.id).status_code == 400
    assert db.session.scalar(db.select(db.func.count(Complaint.id))) == 0


def test_help_requests_have_their_own_categories_and_sla(client, world):
    locked = _file(client, world, world.guard, source="phone", unit_id=world.unit_a.id, kind="help", category="locked_out")
    assert locked.status_code == 201
    c = locked.get_json()
    assert c["kind"] == "help" and (_hours(c, "due_response_at"), _hours(c, "due_resolution_at")) == (0.25, 2)
    assert c["priority"] == "urgent"
    mixed = _file(client, world, world.guard, source="phone", unit_id=world.unit_a.id, kind="help", category="noise")
    assert mixed.status_code == 400
    assert _file(client, world, world.r1, kind="complaint", category="escort").status_code == 400
    # The site may set its own help SLA per kind of help.
    from portal.sites.models import Site

    site = db.session.get(Site, world.site.id)
    site.settings = {**(site.settings or {}), "feedback_sla": {"help/escort": [0.5, 1]}}
    db.session.commit()
    escort = _file(
        client, world, world.manager, source="counter", unit_id=world.unit_b.id, kind="help", category="escort"
    ).get_json()
    assert (_hours(escort, "due_response_at"), _hours(escort, "due_resolution_at")) == (0.5, 1)


def _vacant_unit(world):
    from portal.sites import operations as places

    with world.app.test_request_context():
        unit = places.add_unit(world.bldg_a, "0301", 3)
        db.session.commit()
    return unit


def test_goods_for_a_vacant_unit_go_against_its_permit_or_a_manager(client, world):
    unit = _vacant_unit(world)
    gh, mh = world.token(world.guard), world.token(world.manager)
    body = {"unit_id": unit.id, "direction": "in", "description": "瓷砖 20 箱", "quantity": 20}
    waiting = client.post("/api/v1/desk/items", json=body, headers=gh)
    assert waiting.status_code == 201 and waiting.get_json()["status"] == "pending"
    iid = waiting.get_json()["id"]
    assert client.post(f"/api/v1/desk/items/{iid}/approve", headers=gh).status_code == 403
    approved = client.post(f"/api/v1/desk/items/{iid}/approve", headers=mh)
    assert approved.status_code == 200 and approved.get_json()["approved_by"] == "manager"
    # Once the works there have an approved permit, their goods are logged against it at once.
    permit = apply(client, world, world.manager, unit_id=unit.id).get_json()
    client.post(f"/api/v1/permits/{permit['id']}/approve", headers=mh)
    item = client.post("/api/v1/desk/items", json=body, headers=gh).get_json()
    assert (item["status"], item["approved_by"], item["permit_id"]) == ("approved", "permit", permit["id"])
    # A unit with residents still asks its host; a manager cannot answer for them.
    hosted = client.post("/api/v1/desk/items", json={**body, "unit_id": world.unit_a.id}, headers=gh).get_json()
    assert hosted["status"] == "pending"
    assert client.post(f"/api/v1/desk/items/{hosted['id']}/approve", headers=mh).status_code == 409


def test_walk_in_shows_the_hosts_name_and_masked_phone(client, world):
    world.r1.phone = "+8613811112222"
    db.session.commit()
    resp = client.post(
        "/api/v1/desk/walk-ins", json={"name": "赵六", "unit_id": world.unit_a.id}, headers=world.token(world.guard)
    )
    assert resp.status_code == 201
    assert resp.get_json()["host"] == {"name": "张伟", "phone": "+86 138****2222"}
