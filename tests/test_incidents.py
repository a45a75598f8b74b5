"""Incidents through the API: logging, roles and communities, the timeline, people, photos."""

import io

from feedback_support import jpeg_with_gps, png_bytes
from incidents_support import body, report, report_with_photos, staff
from PIL import Image

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.incidents.models import IncidentPhoto


def _get(client, world, inc_id, user=None):
    return client.get(f"/api/v1/incidents/{inc_id}", headers=world.token(user or world.guard))


def _post(client, world, path, user=None, **json):
    return client.post(path, json=json, headers=world.token(user or world.guard))


def test_guard_logs_an_incident_and_staff_see_it(client, world):
    resp = report(client, world)
    assert resp.status_code == 201, resp.get_json()
    inc = resp.get_json()
    assert inc["status"] == "open" and inc["kind"] == "lift_entrapment" and inc["severity"] == "high"
    assert inc["reported_by"]["id"] == world.guard.id and inc["source"] == "api"
    assert inc["timeline"][0]["action"] == "reported"
    listed = client.get("/api/v1/incidents", headers=world.token(world.manager)).get_json()["items"]
    assert [i["id"] for i in listed] == [inc["id"]]
    one = _get(client, world, inc["id"], world.manager).get_json()
    assert one["description"] == body()["description"]
    # Staff reading a record that names people is audited.
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "pii.view", AuditEntry.object_type == "incident"))


def test_residents_are_refused_and_other_communities_see_nothing(client, world):
    from feedback_support import other_site_staff

    inc = report(client, world).get_json()
    r1 = world.token(world.r1)
    assert client.post("/api/v1/incidents", json=body(), headers=r1).status_code == 403
    assert client.get("/api/v1/incidents", headers=r1).status_code == 403
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=r1).status_code == 403
    elsewhere = other_site_staff(world)
    assert _get(client, world, inc["id"], elsewhere).status_code == 404
    assert client.post(f"/api/v1/incidents/{inc['id']}/acknowledge", headers=world.token(elsewhere)).status_code == 404
    assert client.get("/api/v1/incidents", headers=world.token(elsewhere)).get_json()["items"] == []


def test_bad_reports_are_400_with_the_fields_named(client, world):
    resp = report(client, world, kind="alien", severity="extreme", location="", description="x\u202e")
    assert resp.status_code == 400
    fields = resp.get_json()["error"]["fields"]
    assert set(fields) == {"kind", "severity", "location", "description"}
    assert report(client, world, location="长" * 121).status_code == 400
    assert (
        client.post(
            "/api/v1/incidents", data="[1]", headers=world.token(world.guard), content_type="application/json"
        ).status_code
        == 400
    )
    assert report(client, world, building_id=world.other_site.id + 999).status_code == 400
    assert db.session.scalar(db.select(db.func.count()).select_from(IncidentPhoto)) == 0


def test_timeline_acknowledged_on_scene_resolved_each_with_who_and_when(client, world):
    inc_id = report(client, world, severity="normal").get_json()["id"]
    other = staff(world, "guard2", name="赵保安")
    base = f"/api/v1/incidents/{inc_id}"
    ack = _post(client, world, f"{base}/acknowledge", note="我去看看")
    assert ack.status_code == 200 and ack.get_json()["status"] == "acknowledged"
    assert ack.get_json()["acknowledged_by"]["id"] == world.guard.id
    again = _post(client, world, f"{base}/acknowledge", other)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_acknowledged"
    there = _post(client, world, f"{base}/on-scene", other)
    assert there.get_json()["status"] == "on_scene" and there.get_json()["on_scene_by"]["id"] == other.id
    assert _post(client, world, f"{base}/resolve", report="").status_code == 400
    done = _post(client, world, f"{base}/resolve", report="维修工到场，两人已救出，无人受伤。")
    out = done.get_json()
    assert done.status_code == 200 and out["status"] == "resolved" and out["closing_report"].startswith("维修工")
    assert [e["action"] for e in out["timeline"]] == ["reported", "acknowledged", "on_scene", "resolved"]
    assert all(e["at"] for e in out["timeline"]) and out["timeline"][1]["note"] == "我去看看"
    assert _post(client, world, f"{base}/on-scene").status_code == 409
    assert _post(client, world, f"{base}/resolve", report="again").status_code == 409


def test_resolving_straight_away_acknowledges_too(client, world):
    inc_id = report(client, world, severity="low").get_json()["id"]
    out = _post(client, world, f"/api/v1/incidents/{inc_id}/resolve", world.manager, report="误报").get_json()
    assert out["acknowledged_by"]["id"] == world.manager.id and out["on_scene_at"] is None


def test_people_are_assigned_once_and_only_from_the_site(client, world):
    from feedback_support import other_site_staff

    inc_id = report(client, world).get_json()["id"]
    path = f"/api/v1/incidents/{inc_id}/assignees"
    helper = staff(world, "guard2", name="赵保安")
    resp = _post(client, world, path, world.manager, user_id=helper.id)
    assert resp.status_code == 200 and [a["id"] for a in resp.get_json()["assigned"]] == [helper.id]
    assert _post(client, world, path, world.manager, user_id=helper.id).status_code == 409
    assert _post(client, world, path, world.manager, user_id=world.r1.id).status_code == 400
    assert _post(client, world, path, world.manager, user_id=other_site_staff(world).id).status_code == 400
    assert _post(client, world, path, world.manager, user_id="1").status_code == 400


def test_photos_are_sniffed_stripped_capped_and_served_to_the_site_only(client, world):
    from feedback_support import other_site_staff

    guard = world.token(world.guard)
    resp = report_with_photos(client, guard, [("lift.jpg", jpeg_with_gps())], severity="normal")
    assert resp.status_code == 201, resp.get_json()
    inc = resp.get_json()
    url = inc["photos"][0]["url"]
    got = client.get(url, headers=guard)
    assert got.status_code == 200 and got.headers["X-Content-Type-Options"] == "nosniff"
    assert "GPSInfo" not in str(Image.open(io.BytesIO(got.data)).getexif())
    assert not Image.open(io.BytesIO(got.data)).getexif()
    # A script named .jpg is not a photo; four photos in one upload are too many; nothing is stored for either.
    assert report_with_photos(client, guard, [("x.jpg", b"<script>alert(1)</script>")]).status_code == 400
    assert report_with_photos(client, guard, [(f"{n}.png", png_bytes()) for n in range(4)]).status_code == 400
    more = client.post(
        f"/api/v1/incidents/{inc['id']}/photos",
        data={"photos": [(io.BytesIO(png_bytes()), "b.png")]},
        headers=guard,
        content_type="multipart/form-data",
    )
    assert more.status_code == 200 and len(more.get_json()["photos"]) == 2
    assert db.session.scalar(db.select(db.func.count()).select_from(IncidentPhoto)) == 2
    assert client.get(url, headers=world.token(other_site_staff(world))).status_code == 404
    assert client.get(url, headers=world.token(world.r1)).status_code == 403


def test_oversized_upload_is_refused_before_parsing(client, world):
    big = b"\xff\xd8" + b"0" * (16 * 1024 * 1024)
    resp = report_with_photos(client, world.token(world.guard), [("big.jpg", big)])
    assert resp.status_code == 413


def test_list_filters(client, world):
    low = report(client, world, severity="low", kind="water_leak").get_json()["id"]
    high = report(client, world, severity="critical", kind="fire_smoke").get_json()["id"]
    _post(client, world, f"/api/v1/incidents/{low}/resolve", report="已关阀门")
    headers = world.token(world.guard)

    def ids(query):
        return [i["id"] for i in client.get(f"/api/v1/incidents?{query}", headers=headers).get_json()["items"]]

    assert ids("") == [high, low]  # unresolved first
    assert ids("status=unresolved") == [high]
    assert ids("kind=water_leak") == [low]
    assert ids("severity=critical") == [high]
    assert ids("since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z") == []
    assert client.get("/api/v1/incidents?since=yesterday", headers=headers).status_code == 400
    assert client.get("/api/v1/incidents?since=0001-01-01T00:00:00%2B14:00", headers=headers).status_code == 400


def test_an_all_sites_admin_names_the_site(client, world, admin):
    inc = report(client, world).get_json()
    headers = world.token(admin)
    mine = client.get(f"/api/v1/incidents?site_id={world.site.id}", headers=headers).get_json()["items"]
    assert [i["id"] for i in mine] == [inc["id"]]
    assert client.get(f"/api/v1/incidents?site_id={world.other_site.id}", headers=headers).get_json()["items"] == []
    assert client.get(f"/api/v1/incidents/{inc['id']}?site_id={world.other_site.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/incidents?site_id=999999", headers=headers).status_code == 404
