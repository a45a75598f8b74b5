"""The desk's 1:N face search: finds the enrolled pass, respects roles and sites, is audited."""

import io

import pytest
from support import csrf, csrf_in

from portal.accounts.operations import create_user
from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.faces import queries
from tests import faces_support
from tests.faces_support import enrol_direct, no_face, photo

memo_faces = faces_support.memo_faces  # the fixture, under its own name here


def _search(client, headers, data, **form):
    body = {"photo": (io.BytesIO(data), "desk.jpg"), **form}
    return client.post("/api/v1/faces/search", data=body, headers=headers, content_type="multipart/form-data")


@pytest.fixture
def enrolled(app, world, memo_faces):
    """Two visitors of the site with faces: one of each person."""
    a = world.make_pass(visitor_name="访客甲")
    b = world.make_pass(visitor_name="访客乙")
    enrol_direct(app, a, photo("obama.jpg"))
    enrol_direct(app, b, photo("biden.jpg"))
    return a, b


def test_search_returns_the_enrolled_pass_and_is_audited(client, world, enrolled):
    a, b = enrolled
    resp = _search(client, world.token(world.guard), photo("obama2.jpg"))
    assert resp.status_code == 200, resp.get_json()
    matches = resp.get_json()["matches"]
    assert [m["pass_id"] for m in matches] == [a.id]
    assert matches[0]["distance"] < 0.6 and matches[0]["visitor_name"] == "访客甲"
    views = db.session.query(AuditEntry).filter_by(action="pii.view", object_id=str(a.id)).all()
    assert len(views) == 1 and views[0].actor_id == world.guard.id
    assert db.session.query(AuditEntry).filter_by(action="face.search").one().details["matches"] == [a.id]


def test_resident_is_forbidden(client, world, enrolled):
    resp = _search(client, world.token(world.r1), photo("obama2.jpg"))
    assert resp.status_code == 403
    assert db.session.query(AuditEntry).filter_by(action="face.search").count() == 0


def test_other_site_sees_nothing(client, world, enrolled):
    other_guard = create_user("guard2", world.PASSWORD, "guard", "别的保安", site=world.other_site)
    db.session.commit()
    resp = _search(client, world.token(other_guard), photo("obama2.jpg"))
    assert resp.status_code == 200 and resp.get_json()["matches"] == []
    resp = _search(client, world.token(other_guard), photo("obama2.jpg"), site_id=str(world.site.id))
    assert resp.status_code == 404


def test_admin_of_all_sites_names_the_site(client, world, enrolled):
    admin = create_user("admin1", world.PASSWORD, "admin", "管理员")
    db.session.commit()
    headers = world.token(admin)
    assert _search(client, headers, photo("obama2.jpg")).status_code == 404
    resp = _search(client, headers, photo("obama2.jpg"), site_id=str(world.site.id))
    assert [m["pass_id"] for m in resp.get_json()["matches"]] == [enrolled[0].id]


def test_unusable_search_photo_is_a_bilingual_400(client, world, enrolled):
    resp = _search(client, world.token(world.guard), no_face())
    body = resp.get_json()
    assert resp.status_code == 400 and body["error"]["code"] == "no_face"
    assert set(body["error"]["messages"]) == {"en", "zh"}
    missing = client.post("/api/v1/faces/search", data={}, headers=world.token(world.guard))
    assert missing.status_code == 400 and "photo" in missing.get_json()["error"]["fields"]


def test_cached_index_follows_enrolment_and_withdrawal(app, world, enrolled):
    from portal.faces.operations import withdraw

    a, b = enrolled
    assert len(queries.site_index(world.site.id)) == 2
    assert queries.site_index(world.site.id) is queries.site_index(world.site.id)  # cached
    with app.test_request_context():
        withdraw(a)
        db.session.commit()
    index = queries.site_index(world.site.id)
    assert len(index) == 1 and list(index.keys) == [b.id]


def test_openapi_documents_multipart_search(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/api/v1/faces/search"]["post"]
    assert "multipart/form-data" in op["requestBody"]["content"]


def test_desk_page_for_guards(client, world, enrolled):
    page = client.get("/login")
    token = csrf_in(page.data)
    resp = client.post(
        "/login", data={"csrf_token": token, "login": "guard1", "password": world.PASSWORD, "otp": world.otp(world.guard)}
    )
    assert resp.status_code == 302
    page = client.get("/desk/faces/search")
    assert page.status_code == 200
    token = csrf_in(page.data)
    resp = client.post(
        "/desk/faces/search",
        data={"csrf_token": token, "photo": (io.BytesIO(photo("obama2.jpg")), "x.jpg")},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="face-results"' in html and "访客甲" in html and "访客乙" not in html


def test_desk_page_refuses_residents(client, world):
    page = client.get("/login")
    token = csrf_in(page.data)
    client.post("/login", data={"csrf_token": token, "login": "r1", "password": world.PASSWORD})
    assert client.get("/desk/faces/search").status_code == 403


def test_desk_page_refusal_is_worded_for_the_guard_in_their_language(client, world):
    """A photo without a face: one message, in the guard's language, not the visitor's instructions."""
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (320, 240), (128, 128, 128)).save(blank, "JPEG")
    page = client.get("/login")
    token = csrf_in(page.data)
    client.post(
        "/login", data={"csrf_token": token, "login": "guard1", "password": world.PASSWORD, "otp": world.otp(world.guard)}
    )
    zh = {"Accept-Language": "zh-CN"}
    token = csrf(client, "/desk/faces/search")
    resp = client.post(
        "/desk/faces/search",
        data={"csrf_token": token, "photo": (io.BytesIO(blank.getvalue()), "x.jpg")},
        content_type="multipart/form-data",
        headers=zh,
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "这张照片里没有找到人脸。请使用清晰的正面照片。" in html
    assert "No face" not in html and "your face" not in html
