"""Who sees what: residents their own filings, staff their site's only, anonymous suggestions without identity."""

import pytest
from feedback_support import file_json, file_multipart, jpeg_with_gps, login, other_site_resident, other_site_staff

STAFF_ACTIONS = [
    ("triage", {"priority": "high"}),
    ("assign", {"assignee_id": 1}),
    ("respond", {"body": "hi"}),
    ("resolve", {"body": "done"}),
    ("follow-up", {"outcome": "solved", "note": "ok"}),
    ("reopen", {"reason": "x"}),
]


def test_resident_sees_only_own_filings(client, world):
    mine = file_json(client, world.token(world.r1))["id"]
    theirs = file_json(client, world.token(world.r2), category="parking")["id"]
    h1 = world.token(world.r1)
    assert [c["id"] for c in client.get("/api/v1/complaints", headers=h1).get_json()["items"]] == [mine]
    assert client.get(f"/api/v1/complaints/{theirs}", headers=h1).status_code == 404
    assert client.get(f"/api/v1/complaints/{theirs}/messages", headers=h1).status_code == 404
    assert client.post(f"/api/v1/complaints/{theirs}/messages", json={"body": "hi"}, headers=h1).status_code == 404


def test_staff_see_their_site_only(client, world):
    cid = file_json(client, world.token(world.r1))["id"]
    outsider = other_site_resident(world)
    foreign = file_json(client, world.token(outsider), description="other community")["id"]
    guard = world.token(world.guard)
    ids = [c["id"] for c in client.get("/api/v1/complaints", headers=guard).get_json()["items"]]
    assert ids == [cid]
    assert client.get(f"/api/v1/complaints/{foreign}", headers=guard).status_code == 404
    other = world.token(other_site_staff(world))
    assert [c["id"] for c in client.get("/api/v1/complaints", headers=other).get_json()["items"]] == [foreign]
    assert client.get(f"/api/v1/complaints/{cid}", headers=other).status_code == 404


@pytest.mark.parametrize("action,body", STAFF_ACTIONS)
def test_other_sites_staff_get_404_on_every_action(client, world, action, body):
    cid = file_json(client, world.token(world.r1))["id"]
    other = world.token(other_site_staff(world))
    assert client.post(f"/api/v1/complaints/{cid}/{action}", json=body, headers=other).status_code == 404


@pytest.mark.parametrize("action,body", STAFF_ACTIONS)
def test_residents_cannot_take_staff_actions(client, world, action, body):
    cid = file_json(client, world.token(world.r1))["id"]
    assert client.post(f"/api/v1/complaints/{cid}/{action}", json=body, headers=world.token(world.r1)).status_code == 403


def test_photos_follow_the_filing(client, world):
    resp = file_multipart(client, world.token(world.r1), [("a.jpg", jpeg_with_gps())])
    url = resp.get_json()["photos"][0]["url"]
    assert client.get(url, headers=world.token(world.r2)).status_code == 404
    assert client.get(url, headers=world.token(other_site_staff(world))).status_code == 404
    assert client.get(url, headers=world.token(world.guard)).status_code == 200
    assert client.get(url).status_code == 401


def test_cannot_assign_to_another_sites_staff(client, world):
    cid = file_json(client, world.token(world.r1))["id"]
    other = other_site_staff(world, role="guard")
    resp = client.post(f"/api/v1/complaints/{cid}/assign", json={"assignee_id": other.id}, headers=world.token(world.manager))
    assert resp.status_code == 400 and "assignee_id" in resp.get_json()["error"]["fields"]


def test_anonymous_suggestion_hides_identity_from_staff(client, world):
    rh = world.token(world.r1)
    sid = file_json(
        client,
        rh,
        kind="suggestion",
        anonymous=True,
        category="facilities",
        description="More lights on the path behind block B.",
    )["id"]
    client.post(f"/api/v1/complaints/{sid}/messages", json={"body": "Especially near the bins."}, headers=rh)
    staff = client.get(f"/api/v1/complaints/{sid}", headers=world.token(world.manager)).get_json()
    assert staff["anonymous"] is True and staff["author"] is None
    assert all(m["author"] is None for m in staff["messages"] if m["author_role"] == "resident")
    assert "张伟" not in str(staff) and "1201" not in str(staff)
    own = client.get(f"/api/v1/complaints/{sid}", headers=rh).get_json()
    assert own["author"]["name"] == "张伟"
    login(client, world, world.manager)
    page = client.get(f"/team/feedback/{sid}").get_data(as_text=True)
    assert "More lights" in page and "张伟" not in page and "1201" not in page


def test_pages_by_role(client, world):
    cid = file_json(client, world.token(world.r1))["id"]
    login(client, world, world.r2)
    assert client.get(f"/my/feedback/{cid}").status_code == 404
    assert client.get("/team/feedback/").status_code == 403
    assert client.get("/team/reports/").status_code == 403


def test_staff_page_of_other_site_is_404(client, world):
    cid = file_json(client, world.token(world.r1))["id"]
    login(client, world, other_site_staff(world, role="guard"))
    assert client.get("/team/feedback/").status_code == 200
    assert client.get(f"/team/feedback/{cid}").status_code == 404
    assert f"#{cid}" not in client.get("/team/feedback/").get_data(as_text=True)


@pytest.mark.integration
def test_offset_beyond_64_bits_is_an_empty_page_on_postgres(pg_app, pg_world):
    """PostgreSQL cannot take such an OFFSET (it was a 500); it is capped, as the pass list's is."""
    client, h = pg_app.test_client(), pg_world.token(pg_world.r1)
    file_json(client, h)
    resp = client.get(f"/api/v1/complaints?offset={10**30}", headers=h)
    assert resp.status_code == 200 and resp.get_json()["items"] == []
