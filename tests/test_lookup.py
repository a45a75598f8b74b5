"""The desk's look-up: one search box (phone last four, plate, unit, name, host), masked and audited; expected visitors."""

from datetime import timedelta

from gate_support import reason

from portal.audit.models import AuditEntry
from portal.core.timeutil import local, utcnow
from portal.extensions import db


def _search(client, world, q, user=None):
    resp = client.get("/api/v1/desk/search", query_string={"q": q}, headers=world.token(user or world.guard))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _ids(found):
    return [p["id"] for p in found["passes"]]


def test_search_finds_a_visitor_by_each_kind_of_query_masked(client, world):
    guest = world.make_pass(visitor_name="王小明", visitor_phone="+8613812345678", plate="京A12345")
    other = world.make_pass(host=world.r2, visitor_name="Alice Smith", visitor_phone="+8613900001111")
    _, gate = world.device()
    _, barrier = world.device("barrier-1", kind="barrier", gates=[world.car_gate])
    assert reason(client, barrier, plate="京A12345") == ("grant", "ok")
    found = _search(client, world, "5678")
    assert _ids(found) == [guest.id] and found["matched"] == ["phone_last4"]
    visitor = found["passes"][0]
    assert visitor["visitor"]["phone"] == "+86 138****5678"  # never the whole number
    assert visitor["host"] == {"name": "张伟", "phone": ""}
    assert [e["plate"] for e in found["events"]] == ["京A12345"]
    assert _ids(_search(client, world, "京a·12345")) == [guest.id]
    assert _ids(_search(client, world, "王小")) == [guest.id]
    assert _ids(_search(client, world, "alice")) == []  # names are matched as typed (a prefix)
    assert _ids(_search(client, world, "Alice")) == [other.id]
    assert _ids(_search(client, world, "李娜")) == [other.id]  # the host's name
    by_unit = _search(client, world, "B 0502")
    assert _ids(by_unit) == [other.id] and by_unit["units"][0]["id"] == world.unit_b.id
    assert _ids(_search(client, world, "0502")) == [other.id]
    # Full-width digits, nonsense and empty input answer, never fail.
    assert _ids(_search(client, world, "５６７８")) == [guest.id]
    for q in ("", "x", "%", "_" * 70, "\u202e5678", "😀😀", "1" * 10000):
        assert client.get("/api/v1/desk/search", query_string={"q": q}, headers=world.token(world.guard)).status_code == 200
    # Each answer that showed someone is an audited view of personal data, without the typed digits.
    views = db.session.scalars(
        db.select(AuditEntry).where(AuditEntry.action == "pii.view", AuditEntry.object_type == "desk_search")
    ).all()
    assert views and all("5678" not in str(v.details) for v in views)


def test_search_is_for_staff_of_the_community_only(client, world):
    from portal.accounts.operations import create_user

    world.make_pass(visitor_name="王小明", visitor_phone="+8613812345678")
    assert client.get("/api/v1/desk/search?q=5678", headers=world.token(world.r1)).status_code == 403
    assert client.get("/api/v1/desk/search?q=5678").status_code == 401
    with world.app.test_request_context():
        elsewhere = create_user("guard2", world.PASSWORD, "guard", "别处保安", site=world.other_site)
        db.session.commit()
    assert _search(client, world, "5678", user=elsewhere)["passes"] == []


def test_expected_visitors_by_hour_with_their_host(client, world):
    tz = world.site.timezone
    today = local(utcnow(), tz).date()
    from datetime import datetime, time

    from portal.core.timeutil import zone

    nine = datetime.combine(today + timedelta(days=1), time(9, 30), zone(tz))
    two = datetime.combine(today + timedelta(days=1), time(14, 0), zone(tz))
    a = world.make_pass(visitor_name="早客", valid_from=nine, valid_until=nine + timedelta(hours=2))
    b = world.make_pass(host=world.r2, visitor_name="午客", valid_from=two, valid_until=two + timedelta(hours=1))
    world.make_pass(visitor_name="后天", valid_from=nine + timedelta(days=2), valid_until=nine + timedelta(days=2, hours=1))
    day = (today + timedelta(days=1)).isoformat()
    resp = client.get(f"/api/v1/desk/expected?date={day}", headers=world.token(world.guard))
    assert resp.status_code == 200
    hours = resp.get_json()["hours"]
    assert [(h["hour"], [v["id"] for v in h["visitors"]]) for h in hours] == [(9, [a.id]), (14, [b.id])]
    assert hours[1]["visitors"][0]["host"]["name"] == "李娜"
    assert client.get("/api/v1/desk/expected?date=2026-13-01", headers=world.token(world.guard)).status_code == 400
    assert client.get("/api/v1/desk/expected", headers=world.token(world.guard)).status_code == 200
    assert client.get("/api/v1/desk/expected", headers=world.token(world.r1)).status_code == 403


def test_search_and_expected_pages_render_for_the_desk(client, world, login_as):
    world.make_pass(visitor_name="王小明", visitor_phone="+8613812345678")
    guard = login_as(world.guard)
    page = guard.get("/desk/search?q=5678").get_data(as_text=True)
    assert "王小明" in page and "+86 138****5678" in page and "13812345678" not in page
    assert "王小明" in guard.get("/desk/expected").get_data(as_text=True)
    # A malformed date shows today, and the view of today's visitors is audited like any other.
    audited = db.select(db.func.count(AuditEntry.id)).where(AuditEntry.object_type == "desk_expected")
    before = db.session.scalar(audited)
    odd = guard.get("/desk/expected?date=2026-13-01")
    assert odd.status_code == 200 and "王小明" in odd.get_data(as_text=True)
    assert db.session.scalar(audited) == before + 1
    assert login_as(world.r1).get("/desk/search?q=5678").status_code == 403
