"""A community's settings on one page and through the API: validated, audited old -> new, and taking effect."""

from datetime import timedelta

from conftest import each_database, pass_body
from gate_support import oathtool_code, reason
from support import csrf

from portal.audit.models import AuditEntry
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.sites import settings
from portal.sites.models import Site

PAGE = "/team/community/sunny/settings"
API = "/api/v1/sites/sunny/settings"


def _form(client, **over):
    """The settings page's fields as they are now, with some changed."""
    site = db.session.scalar(db.select(Site).where(Site.slug == "sunny"))
    now = settings.current(site)
    data = {
        "csrf_token": csrf(client, PAGE),
        "satisfaction_target": f"{now['satisfaction_target'] * 100:g}",
        "retention_days": now["retention_days"],
        "parking_minutes": now["parking_minutes"],
        "vehicles_per_unit": now["vehicles_per_unit"],
        "contractor_max_days": now["contractor_max_days"],
    }
    for flag in ("vehicles_need_approval", "contractor_passes_need_approval", "keypad_codes"):
        if now[flag]:
            data[flag] = "1"
    for kind, days in now["pass_max_days"].items():
        data[f"pass_max_days.{kind}"] = days
    for row, (respond, resolve) in now["feedback_sla"].items():
        data[f"sla.{row}.respond"], data[f"sla.{row}.resolve"] = respond, resolve
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def _site():
    db.session.expire_all()
    return db.session.scalar(db.select(Site).where(Site.slug == "sunny"))


def test_the_page_shows_todays_values_as_defaults(world, manager_client):
    page = manager_client.get(PAGE + "?lang=en").get_data(as_text=True)
    assert 'name="retention_days"' in page and 'value="30"' in page and 'value="95"' in page and 'value="366"' in page
    assert settings.current(world.site)["keypad_codes"] is True


def test_saving_changes_only_what_changed_and_audits_old_and_new(world, manager_client):
    resp = manager_client.post(
        PAGE,
        data=_form(
            manager_client,
            retention_days="60",
            vehicles_need_approval="1",
            **{"pass_max_days.contractor": "7", "sla.high.respond": "2"},
        ),
    )
    assert resp.status_code == 302
    now = settings.current(_site())
    assert (now["retention_days"], now["vehicles_need_approval"], now["pass_max_days"]["contractor"]) == (60, True, 7)
    assert now["feedback_sla"]["high"] == [2.0, 24.0]
    (entry,) = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "site.settings")).all()
    changes = entry.details["changes"]
    assert changes["retention_days"] == [30, 60] and changes["vehicles_need_approval"] == [False, True]
    assert changes["pass_max_days"][0]["contractor"] == 366 and changes["pass_max_days"][1]["contractor"] == 7
    assert set(changes) == {"retention_days", "vehicles_need_approval", "pass_max_days", "feedback_sla"}
    assert entry.actor_id == world.manager.id and entry.site_id == world.site.id
    # The same form again changes nothing and writes no audit row.
    manager_client.post(PAGE, data=_form(manager_client))
    assert db.session.scalar(db.select(db.func.count()).where(AuditEntry.action == "site.settings")) == 1


def test_out_of_range_values_are_refused_in_the_page_language(world, manager_client):
    bad = {"retention_days": "0", "satisfaction_target": "120", "pass_max_days.guest": "400", "sla.urgent.resolve": "0.5"}
    en = manager_client.post(PAGE + "?lang=en", data=_form(manager_client, **bad))
    assert en.status_code == 400
    text = en.get_data(as_text=True)
    assert "Enter a number from 1 to 730." in text and "Enter a number from 1 to 366." in text
    assert "Resolution cannot be due before the first answer." in text and "1% to 100%" in text
    zh = manager_client.post(PAGE + "?lang=zh", data=_form(manager_client, retention_days="abc")).get_data(as_text=True)
    assert "请输入数字" in zh
    assert settings.current(_site())["retention_days"] == 30


def test_roles_and_other_communities(world, client, resident_client, guard_client):
    assert resident_client.get(PAGE).status_code == 403 and guard_client.get(PAGE).status_code == 403
    for user in (world.r1, world.guard):
        assert client.get(API, headers=world.token(user)).status_code == 403
        assert client.patch(API, json={"retention_days": 5}, headers=world.token(user)).status_code == 403
    mine = world.token(world.manager)
    assert client.get("/api/v1/sites/other/settings", headers=mine).status_code == 404
    assert client.patch("/api/v1/sites/other/settings", json={"retention_days": 5}, headers=mine).status_code == 404
    assert client.get("/api/v1/sites/nowhere/settings", headers=mine).status_code == 404


def test_the_api_reads_and_patches_with_field_errors(world, client):
    h = world.token(world.manager)
    body = client.get(API, headers=h).get_json()
    assert body["settings"]["retention_days"] == 30 and body["settings"]["pass_max_days"]["guest"] == 366
    resp = client.patch(API, json={"keypad_codes": False, "pass_max_days": {"delivery": 1}}, headers=h)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["changed"] == ["keypad_codes", "pass_max_days"]
    assert resp.get_json()["settings"]["pass_max_days"] == {"guest": 366, "delivery": 1, "contractor": 366, "service": 366}
    for bad in (
        {"retention_days": "many"},
        {"nope": 1},
        {"keypad_codes": "perhaps"},
        {"pass_max_days": {"pony": 3}},
        {"feedback_sla": {"high": [5]}},
        [1],
        {"satisfaction_target": 2},
    ):
        r = client.patch(API, json=bad, headers=h)
        assert r.status_code == 400, bad
        assert set(r.get_json()["error"]["messages"]) == {"en", "zh"}
    fields = client.patch(API, json={"retention_days": 9999}, headers=h).get_json()["error"]["fields"]
    assert fields["retention_days"]["messages"]["en"] == "Enter a number from 1 to 730."


def test_the_longest_pass_per_kind_limits_what_residents_issue(world, client):
    h = world.token(world.r1)
    now = utcnow()
    long_body = pass_body(kind="contractor", valid_until=(now + timedelta(days=10)).isoformat(), notify="none")
    assert client.post("/api/v1/passes", json=long_body, headers=h).status_code == 201
    client.patch(API, json={"pass_max_days": {"contractor": 7}}, headers=world.token(world.manager))
    refused = client.post("/api/v1/passes", json=long_body, headers=h)
    assert refused.status_code == 400
    field = refused.get_json()["error"]["fields"]["valid_until"]
    assert field["code"] == "window_too_long_here" and "7" in field["messages"]["zh"] and "7" in field["messages"]["en"]
    # Other kinds keep their limit; a contractor pass within 7 days is fine.
    assert client.post("/api/v1/passes", json={**long_body, "kind": "guest"}, headers=h).status_code == 201
    short = {**long_body, "valid_until": (now + timedelta(days=6)).isoformat()}
    pid = client.post("/api/v1/passes", json=short, headers=h).get_json()["id"]
    # Extending beyond the limit is refused as well.
    ext = client.post(f"/api/v1/passes/{pid}/extend", json={"valid_until": (now + timedelta(days=9)).isoformat()}, headers=h)
    assert ext.status_code == 400


def test_vehicle_approval_setting_changes_what_a_new_car_does(world, client):
    h = world.token(world.r1)
    assert client.post("/api/v1/vehicles", json={"plate": "京A12345"}, headers=h).get_json()["status"] == "active"
    client.patch(API, json={"vehicles_need_approval": True}, headers=world.token(world.manager))
    assert client.post("/api/v1/vehicles", json={"plate": "京A12346"}, headers=h).get_json()["status"] == "pending"


def test_keypad_codes_off_refuses_codes_but_not_qr(world, client):
    p = world.make_pass(max_entries=None)
    _, header = world.device("keypad-1")
    client.patch(API, json={"keypad_codes": False}, headers=world.token(world.manager))
    assert reason(client, header, code=oathtool_code(p)) == ("deny", "keypad_off")
    page = client.get(f"/p/{p.link_token}?lang=en").get_data(as_text=True)
    assert 'id="code" class="code" aria-live="polite" hidden' in page and "type the code on the keypad" not in page
    client.patch(API, json={"keypad_codes": True}, headers=world.token(world.manager))
    assert reason(client, header, code=oathtool_code(p)) == ("grant", "ok")


@each_database
def test_retention_days_are_per_site(world, app):
    """A pass ended 10 days ago stays under the default 30 days and goes once its site keeps 7."""
    from portal.passes.models import Pass
    from portal.passes.operations import purge_ended
    from portal.sites import operations as places

    now = utcnow()
    kept = world.make_pass(
        host=world.r1, visitor_name="别处不删", valid_from=now - timedelta(days=11), valid_until=now - timedelta(days=10)
    )
    with app.test_request_context():
        kept.site_id = world.other_site.id  # the other community keeps the default 30 days
        db.session.commit()
    ended = world.make_pass(visitor_name="十天前", valid_from=now - timedelta(days=11), valid_until=now - timedelta(days=10))
    with app.test_request_context():
        assert purge_ended(now) == []  # the default keeps it 30 days
        places.change_settings(db.session.get(Site, world.site.id), {"retention_days": 7})
        db.session.commit()
        assert purge_ended(now) == [ended.id]
        db.session.commit()
    assert db.session.get(Pass, ended.id).visitor_name != "十天前"
    assert db.session.get(Pass, kept.id).visitor_name == "别处不删"


def test_names_follow_the_language_in_the_sms_and_on_the_pass_page(world, client):
    from portal.notify.models import Message

    with world.app.test_request_context():
        site = db.session.get(Site, world.site.id)
        site.name_en, site.directions_en = "Sunny Garden", "Turn left at the fountain"
        world.bldg_a.name_en = "Block A"
        db.session.commit()
    p = world.make_pass(visitor_phone="+8613812345678", notify="sms")
    body = db.session.scalar(db.select(Message.body).where(Message.pass_id == p.id))
    zh, en = body.split("\n")
    assert "【阳光花园】" in zh and "A栋 1201" in zh
    assert "[Sunny Garden]" in en and "Block A 1201" in en
    page = client.get(f"/p/{p.link_token}?lang=zh").get_data(as_text=True)
    assert "Turn left at the fountain" in page  # no Chinese directions: the English ones, not nothing


def test_walk_ins_and_events_without_a_pass_follow_their_sites_retention(world, app):
    from portal.events.models import AccessEvent
    from portal.passes.retention import PURGED_NAME
    from portal.privacy.operations import purge_without_pass
    from portal.sites import operations as places
    from portal.walkins import operations as walkins
    from portal.walkins.models import WalkIn

    now = utcnow()
    with app.test_request_context():
        w, _ = walkins.register_walk_in(world.guard, world.site, {"name": "十天前的访客", "unit_id": world.unit_a.id})
        w.created_at = now - timedelta(days=10)
        stray = AccessEvent(site_id=None, method="plate", decision="deny", reason="unknown", plate="京A99999")
        stray.at = now - timedelta(days=40)
        db.session.add(stray)
        places.change_settings(db.session.get(Site, world.site.id), {"retention_days": 7})
        db.session.commit()
        assert purge_without_pass(now) == 2  # the walk-in by its site's 7 days, the siteless event by the default 30
        db.session.commit()
    assert db.session.get(WalkIn, w.id).visitor_name == PURGED_NAME
    assert db.session.get(AccessEvent, stray.id).plate is None
