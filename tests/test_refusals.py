"""One refusal path: an operation's Refused becomes a JSON status in the API and a flash on pages, both rolled back."""

import pytest

from portal.core.errors import REFUSAL_STATUS, Refused
from portal.extensions import csrf, db
from portal.sites.models import Site


def _write_then_refuse(kind):
    db.session.add(Site(slug="refused-site", name="拒绝"))
    db.session.flush()
    raise Refused("already_revoked", "This pass has been cancelled.", kind=kind)


@pytest.fixture
def refusing_app(app):
    """The test app with an API route and a page route that write a row and then refuse."""

    @csrf.exempt
    @app.post("/api/v1/_test/refuse/<kind>")
    def _api_refuse(kind):
        _write_then_refuse(kind)

    @csrf.exempt
    @app.post("/_test/refuse")
    def _page_refuse():
        _write_then_refuse("conflict")

    return app


@pytest.mark.parametrize("kind", sorted(REFUSAL_STATUS))
def test_api_answers_the_kind_status_with_both_languages_and_keeps_nothing(refusing_app, kind):
    client = refusing_app.test_client()
    resp = client.post(f"/api/v1/_test/refuse/{kind}", headers={"Accept-Language": "en"})
    assert resp.status_code == REFUSAL_STATUS[kind]
    body = resp.get_json()["error"]
    assert body["code"] == "already_revoked"
    assert body["messages"]["en"] == "This pass has been cancelled."
    assert body["messages"]["zh"] and body["messages"]["zh"] != body["messages"]["en"]
    assert db.session.query(Site).filter_by(slug="refused-site").count() == 0


def test_page_flashes_goes_back_and_rolls_back(refusing_app):
    client = refusing_app.test_client()
    resp = client.post(
        "/_test/refuse",
        headers={"Referer": "http://portal.test/passes/?view=live", "Accept-Language": "en", "Accept": "text/html"},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/passes/?view=live")
    with client.session_transaction() as sess:
        flashes = sess.get("_flashes", [])
    assert ("error", "This pass has been cancelled.") in flashes
    assert db.session.query(Site).filter_by(slug="refused-site").count() == 0


def test_page_never_goes_back_to_another_site(refusing_app):
    client = refusing_app.test_client()
    resp = client.post("/_test/refuse", headers={"Referer": "https://evil.example/phish", "Accept": "text/html"})
    assert resp.status_code == 302
    assert "evil.example" not in resp.headers["Location"]
    assert resp.headers["Location"].endswith("/_test/refuse")
