"""The desk's incident pages (list, form, record with its actions) and the handover pages, by role."""

import io
from datetime import timedelta

from feedback_support import png_bytes
from incidents_support import report
from support import csrf

from portal.core.timeutil import utcnow, zone
from portal.desk import operations as desk
from portal.desk.models import Shift
from portal.extensions import db
from portal.incidents.models import Incident


def _form(**over):
    data = {"kind": "water_leak", "severity": "normal", "location": "地下车库B2", "description": "水管爆裂，积水约5厘米。"}
    data.update(over)
    return data


def test_guard_logs_an_incident_with_a_photo_from_the_phone_form_and_works_it(guard_client, world):
    token = csrf(guard_client, "/desk/incidents/new")
    data = _form(csrf_token=token, building_id=str(world.bldg_a.id), photos=[(io.BytesIO(png_bytes()), "leak.png")])
    resp = guard_client.post("/desk/incidents/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    inc = db.session.scalar(db.select(Incident))
    assert (inc.kind, inc.building_id, inc.source, len(inc.photos)) == ("water_leak", world.bldg_a.id, "desk", 1)
    page = guard_client.get(f"/desk/incidents/{inc.id}").get_data(as_text=True)
    assert "地下车库B2" in page and f"/desk/incidents/{inc.id}/photos/{inc.photos[0].id}" in page
    assert guard_client.get(f"/desk/incidents/{inc.id}/photos/{inc.photos[0].id}").status_code == 200
    for path, extra in (("acknowledge", {}), ("on-scene", {}), ("resolve", {"report": "已关总阀，物业维修已到。"})):
        done = guard_client.post(f"/desk/incidents/{inc.id}/{path}", data={"csrf_token": token, **extra})
        assert done.status_code == 302
    db.session.refresh(inc)
    assert inc.status == "resolved" and inc.acknowledged_by_id == inc.on_scene_by_id == world.guard.id
    listing = guard_client.get("/desk/incidents/?status=resolved").get_data(as_text=True)
    assert f'data-id="{inc.id}"' in listing


def test_form_comes_back_with_what_was_typed_and_the_reason(guard_client, world):
    token = csrf(guard_client, "/desk/incidents/new")
    from portal.core.errors import bilingual

    required = bilingual("This field is required.")
    for lang, accept in (("zh", "zh-CN"), ("en", "en")):
        data = _form(csrf_token=token, location="", description="楼道里有陌生人")
        resp = guard_client.post("/desk/incidents/new", data=data, headers={"Accept-Language": accept})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400 and "楼道里有陌生人" in page and 'class="error"' in page and required[lang] in page
    assert db.session.scalar(db.select(db.func.count(Incident.id))) == 0


def test_a_refused_action_goes_back_with_a_message(guard_client, world, client):
    inc_id = report(client, world).get_json()["id"]
    token = csrf(guard_client, f"/desk/incidents/{inc_id}")
    guard_client.post(f"/desk/incidents/{inc_id}/acknowledge", data={"csrf_token": token})
    again = guard_client.post(f"/desk/incidents/{inc_id}/acknowledge", data={"csrf_token": token}, follow_redirects=True)
    assert again.status_code == 200 and "已有人确认" in again.get_data(as_text=True)


def test_residents_get_403_and_other_communities_404(resident_client, login_as, world, client):
    from feedback_support import other_site_staff

    inc_id = report(client, world).get_json()["id"]
    for path in ("/desk/incidents/", "/desk/incidents/new", f"/desk/incidents/{inc_id}", "/desk/handovers"):
        assert resident_client.get(path).status_code == 403
    elsewhere = login_as(other_site_staff(world, "guard"))
    assert elsewhere.get(f"/desk/incidents/{inc_id}").status_code == 404
    assert f'data-id="{inc_id}"' not in elsewhere.get("/desk/incidents/").get_data(as_text=True)


def _shift(world, guard, notes, started, hours=8):
    s = Shift(
        site_id=world.site.id, guard_id=guard.id, started_at=started, ended_at=started + timedelta(hours=hours), notes=notes
    )
    db.session.add(s)
    db.session.commit()
    return s


def test_every_handover_is_kept_and_searchable_with_what_happened_on_the_shift(guard_client, world, client):
    from incidents_support import staff

    night = staff(world, "guard2", name="夜班李")
    now = utcnow()
    old = _shift(world, world.guard, "东门道闸抬杆慢，已报修", now - timedelta(days=3))
    mid = _shift(world, night, "B栋有人吵架，已调解", now - timedelta(days=2))
    with world.app.test_request_context():
        desk.start_shift(world.guard, world.site.id)
        x = desk.open_exception(world.site.id, "denied", "k1", details={})
        db.session.commit()
    inc_id = report(client, world).get_json()["id"]
    with world.app.test_request_context():
        last = desk.end_shift(world.guard, world.site.id, "电梯困人已处理")
        db.session.commit()
    headers = world.token(world.guard)

    def ids(query=""):
        return [h["id"] for h in client.get(f"/api/v1/desk/handovers?{query}", headers=headers).get_json()["items"]]

    assert ids() == [last.id, mid.id, old.id]
    assert ids("q=道闸") == [old.id]
    assert ids("q=夜班") == [mid.id]  # the guard's name
    assert ids(f"guard_id={night.id}") == [mid.id]
    day = (now - timedelta(days=2)).astimezone(zone("Asia/Shanghai")).date()
    assert mid.id in ids(f"from={day}&to={day}")
    assert client.get("/api/v1/desk/handovers?from=someday", headers=headers).status_code == 400
    assert client.get("/api/v1/desk/handovers?to=9999-12-31", headers=headers).status_code == 400
    for accept, why in (("zh-CN", "请按 YYYY-MM-DD 格式填写日期。"), ("en", "Give a date as YYYY-MM-DD.")):
        bad = guard_client.get("/desk/handovers?to=9999-12-31", headers={"Accept-Language": accept})
        assert bad.status_code == 200 and why in bad.get_data(as_text=True)  # the page says why and lists all
    one = client.get(f"/api/v1/desk/handovers/{last.id}", headers=headers).get_json()
    assert [i["id"] for i in one["incidents"]] == [inc_id]
    assert [e["id"] for e in one["exceptions"]] == [x.id] and one["exceptions"][0]["handed_over"] is True
    page = guard_client.get("/desk/handovers?q=吵架").get_data(as_text=True)
    assert f'data-id="{mid.id}"' in page and f'data-id="{old.id}"' not in page
    detail = guard_client.get(f"/desk/handovers/{last.id}").get_data(as_text=True)
    assert "电梯困人已处理" in detail and f"/desk/incidents/{inc_id}" in detail


def test_guard_sets_a_post_from_the_shift_page(guard_client, world):
    with world.app.test_request_context():
        desk.start_shift(world.guard, world.site.id)
        db.session.commit()
    inc_id = report(guard_client, world).get_json()["id"]
    token = csrf(guard_client, "/desk/shift")
    page = guard_client.get("/desk/shift").get_data(as_text=True)
    assert f"building:{world.bldg_a.id}" in page
    assert f"/desk/incidents/{inc_id}" in page  # the unresolved incidents the next guard takes over
    resp = guard_client.post("/desk/shift/post", data={"csrf_token": token, "post": f"building:{world.bldg_a.id}"})
    assert resp.status_code == 302
    from portal.shifts.models import GuardPost

    post = db.session.scalar(db.select(GuardPost))
    assert (post.kind, post.building_id) == ("building", world.bldg_a.id)


def test_a_handover_lists_the_door_alarms_of_its_shift(guard_client, world):
    from portal.alarms.models import Alarm

    dev, _ = world.device(name="A栋门禁", kind="door_controller", gates=[])
    now = utcnow()
    shift = _shift(world, world.guard, "夜班", now - timedelta(hours=9))
    db.session.add(Alarm(site_id=world.site.id, device_id=dev.id, kind="door_forced", raised_at=now - timedelta(hours=5)))
    db.session.commit()
    page = guard_client.get(f"/desk/handovers/{shift.id}").get_data(as_text=True)
    assert "本班门禁报警" in page  # the section, in the page's language
    assert "未处理" in page  # the alarm's state
