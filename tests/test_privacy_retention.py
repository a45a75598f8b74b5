"""Per-site retention by kind of data: managers set it, the purges keep each site's own period; investigations."""

from datetime import timedelta

from sqlalchemy import update

from portal.accounts.operations import create_user
from portal.audit.models import AuditEntry
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.faces.erasure import purge
from portal.faces.models import FaceConsent
from portal.passes.jobs import retention_job
from portal.passes.models import Pass
from portal.passes.retention import PURGED_NAME
from portal.patrol import operations as patrol
from portal.patrol.models import Hazard
from portal.sites import operations as places
from tests.desk_support import event
from tests.feedback_support import other_site_staff, png_bytes


def test_managers_read_and_set_their_sites_periods_others_cannot(client, world):
    manager = world.token(world.manager)
    got = client.get("/api/v1/sites/sunny/retention", headers=manager).get_json()
    assert got["visits"] == {"days": 30, "default": 30, "own": False, "min": 1, "max": 730}
    assert got["faces"]["max"] == 90 and got["patrol_photos"]["default"] == 90
    put = client.put("/api/v1/sites/sunny/retention", json={"visits": 180, "faces": 7}, headers=manager)
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["visits"] == {"days": 180, "default": 30, "own": True, "min": 1, "max": 730}
    # The same value the community's settings page shows and edits: one place for it.
    assert client.get("/api/v1/sites/sunny/settings", headers=manager).get_json()["settings"]["retention_days"] == 180
    # Face records may not outlive a quarter; an unknown kind or a non-number is a 400; nothing half-stored.
    for bad in ({"faces": 365}, {"visits": 0}, {"shoes": 3}, {"visits": "180"}, {"visits": True}, {}):
        resp = client.put("/api/v1/sites/sunny/retention", json=bad, headers=manager)
        assert resp.status_code == 400, bad
    assert client.get("/api/v1/sites/sunny/retention", headers=manager).get_json()["faces"]["days"] == 7
    back = client.put("/api/v1/sites/sunny/retention", json={"faces": None}, headers=manager).get_json()
    assert back["faces"] == {"days": 30, "default": 30, "own": False, "min": 1, "max": 90}
    assert client.get("/api/v1/sites/sunny/retention", headers=world.token(world.guard)).status_code == 403
    assert client.put("/api/v1/sites/sunny/retention", json={"visits": 5}, headers=world.token(world.r1)).status_code == 403
    assert client.get("/api/v1/sites/other/retention", headers=manager).status_code == 404
    assert client.get("/api/v1/sites/sunny/retention", headers=world.token(other_site_staff(world))).status_code == 404
    audit = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "privacy.retention")).all()
    assert len(audit) == 2 and audit[0].details["after"]["visits"] == 180


def _ended_pass(world, host, unit, days_ago, name):
    p = world.make_pass(host=host, unit=unit, visitor_name=name, visitor_phone="+8613812345678")
    ended = utcnow() - timedelta(days=days_ago)
    db.session.execute(update(Pass).where(Pass.id == p.id).values(valid_from=ended - timedelta(hours=2), valid_until=ended))
    db.session.commit()
    return p.id


def test_each_site_purges_exactly_what_is_past_its_own_period(app, client, world):
    # The other community keeps the defaults; this one keeps visit records 90 days, face records 7, hazard photos 10.
    with app.test_request_context():
        bldg = places.add_building(world.other_site, "C", "C栋", 1, 6)
        unit = places.add_unit(bldg, "0301", 3)
        neighbour = create_user("r9", world.PASSWORD, "resident", "周杰")
        places.move_in(neighbour, unit, "owner")
        db.session.commit()
    periods = {"visits": 90, "faces": 7, "patrol_photos": 10}
    put = client.put("/api/v1/sites/sunny/retention", json=periods, headers=world.token(world.manager))
    assert put.status_code == 200
    here_45 = _ended_pass(world, world.r1, world.unit_a, 45, "留着的")
    here_100 = _ended_pass(world, world.r1, world.unit_a, 100, "过期的")
    there_45 = _ended_pass(world, neighbour, unit, 45, "别处的")
    there_20 = _ended_pass(world, neighbour, unit, 20, "别处新的")
    # Face consent records of passes that ended 10 days ago: past this site's 7 days, inside the other's 30.
    here_10, there_10 = _ended_pass(world, world.r1, world.unit_a, 10, "刷脸"), _ended_pass(world, neighbour, unit, 10, "刷脸")
    for pid, site_id in ((here_10, world.site.id), (there_10, world.other_site.id)):
        db.session.add(FaceConsent(pass_id=pid, site_id=site_id, version="v1", purpose="entry"))
    db.session.commit()
    other_guard = other_site_staff(world, "guard")
    with app.test_request_context():
        hazards = {}
        for who, site, days in ((world.guard, world.site, 15), (world.guard, world.site, 5), (other_guard, world.other_site, 15)):
            from portal.feedback.uploads import clean

            hz, _ = patrol.add_hazard(who, site, {"id": f"hz-{site.id}-{days}-x", "description": "井盖松动"}, clean(png_bytes()))
            patrol.close_hazard(who, hz, "已修")
            hz.closed_at = utcnow() - timedelta(days=days)
            hazards[(site.id, days)] = hz.id
        db.session.commit()
        retention_job(app)
        retention_job(app)  # a second run finds nothing more
        assert patrol.purge_hazard_photos() == 1 and patrol.purge_hazard_photos() == 0
        assert purge()["consents"] == 1 and purge()["consents"] == 0
        db.session.commit()
    db.session.expire_all()
    names = {pid: db.session.get(Pass, pid).visitor_name for pid in (here_45, here_100, there_45, there_20)}
    assert names == {here_45: "留着的", here_100: PURGED_NAME, there_45: PURGED_NAME, there_20: "别处新的"}
    assert db.session.get(Pass, here_100).visitor_phone is None and db.session.get(Pass, here_45).visitor_phone
    kept = {key: db.session.get(Hazard, hid).photo_type for key, hid in hazards.items()}
    # Sunny: 10 days, so the 15-day-old photo goes and the 5-day-old one stays; the other site: the default 90.
    assert kept == {(world.site.id, 15): None, (world.site.id, 5): "image/png", (world.other_site.id, 15): "image/png"}
    assert db.session.get(Hazard, hazards[(world.site.id, 15)]).description == "井盖松动"  # the record stays
    assert [c.pass_id for c in db.session.scalars(db.select(FaceConsent))] == [there_10]
    assert db.session.get(Pass, here_10).visitor_name == "刷脸"  # visit records outlive face records here


def test_investigations_find_who_came_within_retention_and_are_audited(app, client, world, login_as):
    p = world.make_pass(visitor_name="王小明")
    event(world, pass_id=p.id, method="qr", direction="in")
    manager = world.token(world.manager)
    found = client.get("/api/v1/investigations/visits?name=小明", headers=manager).get_json()["items"]
    assert [(v["name"], v["unit"], len(v["entries"])) for v in found] == [("王小明", "A栋 1201", 1)]
    by_unit = client.get("/api/v1/investigations/visits?unit=A栋1201", headers=manager).get_json()["items"]
    assert [v["name"] for v in by_unit] == ["王小明"]
    assert client.get("/api/v1/investigations/visits?unit=B栋0502", headers=manager).get_json()["items"] == []
    assert client.get("/api/v1/investigations/visits", headers=world.token(world.guard)).status_code == 403
    elsewhere = client.get("/api/v1/investigations/visits?name=小明", headers=world.token(other_site_staff(world)))
    assert elsewhere.get_json()["items"] == []
    audits = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "pii.view")).all()
    assert len(audits) >= 3
    # Past retention the visitor is no longer found.
    ended = utcnow() - timedelta(days=40)
    db.session.execute(update(Pass).where(Pass.id == p.id).values(valid_from=ended - timedelta(hours=1), valid_until=ended))
    db.session.commit()
    with app.test_request_context():
        retention_job(app)
    window = f"from={(ended - timedelta(days=1)).isoformat()}&to={utcnow().isoformat()}".replace("+", "%2B")
    assert client.get(f"/api/v1/investigations/visits?name=小明&{window}", headers=manager).get_json()["items"] == []
    page = login_as(world.manager).get("/privacy/?search=1&name=小明")
    assert page.status_code == 200 and "没有找到" in page.get_data(as_text=True)


def test_the_managers_search_says_why_a_period_is_refused(world, login_as):
    manager = login_as(world.manager)
    no_time = manager.get("/privacy/?search=1&from=yesterday")
    assert no_time.status_code == 400 and "请填写带时区的时间，例如 2026-01-01T08:00:00+08:00。" in no_time.get_data(as_text=True)
    too_long = manager.get("/privacy/?search=1&from=2020-01-01T00:00:00%2B08:00")
    assert too_long.status_code == 400 and "请选择不超过 400 天的时间段。" in too_long.get_data(as_text=True)


def test_the_managers_page_saves_periods(client, world, login_as):
    from tests.support import csrf

    manager = login_as(world.manager)
    token = csrf(manager, "/privacy/")
    resp = manager.post("/privacy/retention", data={"visits": "120", "faces": "", "patrol_photos": "30", "csrf_token": token})
    assert resp.status_code == 302
    html = manager.get("/privacy/").get_data(as_text=True)
    assert 'value="120"' in html and 'value="30"' in html
    bad = manager.post("/privacy/retention", data={"visits": "abc", "csrf_token": token})
    assert bad.status_code == 302
    assert 'value="120"' in manager.get("/privacy/").get_data(as_text=True)
    assert login_as(world.guard).get("/privacy/").status_code == 403
