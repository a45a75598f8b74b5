"""Patrol rounds by role: managers define, guards walk and sync (offline batches once, at their own times), desk exceptions."""

from datetime import timedelta

import pytest

from portal.audit.models import AuditEntry
from portal.core.timeutil import parse_iso, utcnow
from portal.desk.models import DeskException
from portal.extensions import db
from portal.patrol import operations
from portal.patrol.models import Round, Scan
from tests.feedback_support import other_site_staff
from tests.patrol_support import minutes, route, scan, start


def test_managers_define_checkpoints_and_routes_guards_and_residents_cannot(client, world):
    manager, guard, resident = (world.token(u) for u in (world.manager, world.guard, world.r1))
    resp = client.post("/api/v1/patrol/checkpoints", json={"name": "地库B2消防门"}, headers=manager)
    assert resp.status_code == 201, resp.get_json()
    cp = resp.get_json()
    assert cp["payload"].startswith(f"PC1:{world.site.id}:{cp['id']}:") and cp["code"].startswith(f"{cp['id']}-")
    assert client.post("/api/v1/patrol/checkpoints", json={"name": "x"}, headers=guard).status_code == 403
    assert client.get("/api/v1/patrol/checkpoints", headers=resident).status_code == 403
    # Guards see the checkpoints but not what the stickers say.
    seen = client.get("/api/v1/patrol/checkpoints", headers=guard).get_json()["items"]
    assert seen == [{"id": cp["id"], "name": "地库B2消防门", "active": True}]
    body = {"name": "夜巡", "stops": [{"checkpoint_id": cp["id"], "minutes": 0}], "schedule": {"every_hours": 2, "from": "00:00"}}
    resp = client.post("/api/v1/patrol/routes", json=body, headers=manager)
    assert resp.status_code == 201 and resp.get_json()["stops"][0]["name"] == "地库B2消防门"
    assert client.post("/api/v1/patrol/routes", json=body, headers=guard).status_code == 403
    bad = dict(body, schedule={"times": ["25:00"]})
    assert client.post("/api/v1/patrol/routes", json=bad, headers=manager).status_code == 400
    # Another community's checkpoint cannot be put on this site's route.
    others, _, _ = route(world, n=1, site=world.other_site, manager=other_site_staff(world))
    foreign = dict(body, stops=[{"checkpoint_id": others[0].id}])
    resp = client.post("/api/v1/patrol/routes", json=foreign, headers=manager)
    assert resp.status_code == 400 and "stops" in resp.get_json()["error"]["fields"]


def test_another_communitys_rounds_and_routes_are_404(client, world):
    other_manager = other_site_staff(world)
    _, other_route, _ = route(world, site=world.other_site, manager=other_manager)
    theirs = start(client, world.token(other_manager), other_route.id)
    guard = world.token(world.guard)
    assert client.post("/api/v1/patrol/rounds", json={"route_id": other_route.id}, headers=guard).status_code == 404
    assert client.get(f"/api/v1/patrol/rounds/{theirs['id']}", headers=guard).status_code == 404
    assert client.post(f"/api/v1/patrol/rounds/{theirs['id']}/scans", json={"scans": []}, headers=guard).status_code == 404
    assert client.get("/api/v1/patrol/rounds", headers=guard).get_json()["items"] == []


def test_offline_scans_arrive_once_with_their_own_times(client, world, monkeypatch):
    cps, r, payloads = route(world)
    guard = world.token(world.guard)
    rnd = start(client, guard, r.id)
    began = parse_iso(rnd["started_at"])
    monkeypatch.setattr(operations, "utcnow", lambda: minutes(began, 14))  # back in signal a quarter of an hour later
    # Walked with no signal: the phone kept each scan with its own time and sends them together afterwards.
    batch = [scan(p, minutes(began, 4 * (i + 1))) for i, p in enumerate(payloads)]
    first = client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": batch}, headers=guard).get_json()
    assert first["applied"] == [s["id"] for s in batch] and first["rejected"] == []
    stored = db.session.scalars(db.select(Scan).where(Scan.round_id == rnd["id"]).order_by(Scan.scanned_at)).all()
    assert [s.scanned_at for s in stored] == [parse_iso(s["scanned_at"]) for s in batch]
    # The answer was lost; the phone sends the same batch again: nothing changes.
    again = client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": batch}, headers=guard).get_json()
    assert again["applied"] == [] and sorted(again["duplicates"]) == sorted(s["id"] for s in batch)
    assert db.session.scalar(db.select(db.func.count(Scan.id)).where(Scan.round_id == rnd["id"])) == 3
    done = client.post(f"/api/v1/patrol/rounds/{rnd['id']}/finish", json={}, headers=guard).get_json()
    assert done["status"] == "done" and done["on_time"] is True and done["missing"] == []
    report = client.get("/api/v1/patrol/report", headers=world.token(world.manager)).get_json()
    assert report["rounds_on_time"] == 1 and report["checkpoints_missed"] == 0


def test_scan_times_outside_the_round_and_other_guards_are_refused(client, world):
    _, r, payloads = route(world)
    guard = world.token(world.guard)
    rnd = start(client, guard, r.id)
    began = parse_iso(rnd["started_at"])
    batch = [
        scan(payloads[0], began - timedelta(hours=1)),
        scan(payloads[1], utcnow() + timedelta(hours=1)),
        {"id": "x", "payload": payloads[2], "scanned_at": began.isoformat()},
        scan(payloads[2], minutes(began, 1)) | {"scanned_at": "yesterday"},
    ]
    out = client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": batch}, headers=guard).get_json()
    assert [r["code"] for r in out["rejected"]] == ["bad_time", "bad_time", "bad_id", "bad_time"] and out["applied"] == []
    colleague = world.token(other_site_staff(world, "guard"))
    assert client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": []}, headers=colleague).status_code == 404
    from portal.accounts.operations import create_user

    second = create_user("guard8", world.PASSWORD, "guard", "二号", site=world.site)
    db.session.commit()
    resp = client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": []}, headers=world.token(second))
    assert resp.status_code == 403
    assert client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": "x"}, headers=guard).status_code == 400


def test_a_sticker_from_another_community_is_refused(client, world):
    _, r, payloads = route(world)
    _, _, theirs = route(world, n=1, site=world.other_site, manager=other_site_staff(world))
    guard = world.token(world.guard)
    rnd = start(client, guard, r.id)
    at = minutes(parse_iso(rnd["started_at"]), 1)
    site_id, cp_id, mac = theirs[0].split(":")[1:]
    forged = f"PC1:{world.site.id}:{cp_id}:{mac}"  # the other sticker's signature, claimed for this site
    tampered = payloads[0][:-1] + ("A" if payloads[0][-1] != "A" else "B")
    batch = [scan(theirs[0], at), scan(forged, at), scan(tampered, at), scan("https://example.com/x", at)]
    out = client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": batch}, headers=guard).get_json()
    assert [x["code"] for x in out["rejected"]] == ["wrong_site", "bad_signature", "bad_signature", "unknown"]
    assert out["applied"] == []
    # The typed code under the sticker works; a code with a wrong check part does not.
    from portal.patrol import stickers
    from portal.patrol.models import Checkpoint

    cp = db.session.get(Checkpoint, int(payloads[1].split(":")[2]))
    typed = {"id": "typed-code-1", "code": stickers.manual_code(cp).lower(), "scanned_at": at.isoformat()}
    wrong = {"id": "typed-code-2", "code": f"{cp.id}-AAAAAA", "scanned_at": at.isoformat()}
    out = client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": [typed, wrong]}, headers=guard).get_json()
    assert out["applied"] == ["typed-code-1"] and out["rejected"] == [{"id": "typed-code-2", "code": "bad_signature"}]


def _exceptions(kind):
    return db.session.scalars(db.select(DeskException).where(DeskException.kind == kind)).all()


def test_a_missed_checkpoint_becomes_a_desk_exception_and_a_late_sync_closes_it(client, world):
    cps, r, payloads = route(world)
    guard = world.token(world.guard)
    rnd = start(client, guard, r.id)
    began = parse_iso(rnd["started_at"])
    skipped = scan(payloads[1], minutes(began, 0))  # made offline on a second phone, arriving late
    walked = [scan(payloads[0], began), scan(payloads[2], minutes(began, 0))]
    client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": walked}, headers=guard)
    done = client.post(f"/api/v1/patrol/rounds/{rnd['id']}/finish", headers=guard).get_json()
    assert done["missing"] == [cps[1].id] and done["on_time"] is False
    (x,) = _exceptions("patrol_missed")
    assert x.status == "open" and x.details["checkpoints"] == ["检查点2"] and x.details["route"] == "夜间巡逻"
    desk = client.get("/api/v1/desk/exceptions", headers=guard).get_json()
    listed = [e for e in desk["items"] if e["kind"] == "patrol_missed"]
    assert listed and listed[0]["kind_label"]["zh"] == "巡逻点漏巡" and listed[0]["details"]["checkpoints"] == ["检查点2"]
    # The missing scan synced after the round closed: the exception closes by itself.
    out = client.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": [skipped]}, headers=guard).get_json()
    assert out["applied"] == [skipped["id"]]
    db.session.expire_all()
    assert _exceptions("patrol_missed")[0].status == "closed"
    assert db.session.get(Round, rnd["id"]).on_time is True


def test_a_late_checkpoint_is_reported_to_the_desk(client, world):
    _, r, payloads = route(world, minutes=5)
    guard = world.token(world.guard)
    rnd = start(client, guard, r.id)
    began = parse_iso(rnd["started_at"])
    with world.app.test_request_context():
        db_round = db.session.get(Round, rnd["id"])
        items = [
            scan(payloads[0], minutes(began, 5)),
            scan(payloads[1], minutes(began, 30)),
            scan(payloads[2], minutes(began, 31)),
        ]
        later = minutes(began, 32)
        operations.record_scans(world.guard, db_round, items, now=later)
        operations.finish_round(world.guard, db_round, now=later)
        db.session.commit()
    (x,) = _exceptions("patrol_late")
    assert x.details["checkpoints"] == ["检查点2", "检查点3"]
    assert not _exceptions("patrol_missed")


def test_the_job_closes_rounds_never_finished_or_never_started(client, world, app):
    from portal.core.timeutil import local
    from portal.patrol.models import Route

    cps, r, payloads = route(world)
    guard = world.token(world.guard)
    walking = start(client, guard, r.id)  # started, then the phone was lost
    began = parse_iso(walking["started_at"])
    client.post(f"/api/v1/patrol/rounds/{walking['id']}/scans", json={"scans": [scan(payloads[0], began)]}, headers=guard)
    # Scheduled for the next minute in Shanghai time: the slot is due at `now`, a round is made once.
    slot = local(began, "Asia/Shanghai").replace(second=0, microsecond=0) + timedelta(minutes=1)
    row = db.session.get(Route, r.id)
    row.schedule = {"times": [slot.strftime("%H:%M")]}
    with app.test_request_context():  # a slot before the route existed makes no round
        assert operations.schedule_rounds(now=slot + timedelta(days=1) - timedelta(hours=25)) == 0
    db.session.commit()
    now = slot.astimezone(began.tzinfo)
    with app.test_request_context():
        assert operations.schedule_rounds(now=now) == 1 and operations.schedule_rounds(now=now) == 0
        assert operations.close_overdue(now=minutes(now, 10)) == 0  # not yet: its walk and sync time have not passed
        assert operations.close_overdue(now=now + timedelta(hours=3)) == 2
        db.session.commit()
    rounds = {x.id: x for x in db.session.scalars(db.select(Round))}
    assert len(rounds) == 2 and all(x.status == "missed" for x in rounds.values())
    missed = {tuple(x.details["checkpoints"]) for x in _exceptions("patrol_missed")}
    assert missed == {("检查点2", "检查点3"), ("检查点1", "检查点2", "检查点3")}
    assert db.session.scalar(db.select(db.func.count(AuditEntry.id)).where(AuditEntry.action == "patrol.round_overdue")) == 1


def test_hazard_with_a_photo_is_kept_once_and_closed(client, world):
    import io

    from tests.feedback_support import png_bytes

    _, r, payloads = route(world)
    guard = world.token(world.guard)
    rnd = start(client, guard, r.id)
    data = {"id": "hazard-0001", "description": "消防通道被电动车堵住", "round_id": str(rnd["id"]), "payload": payloads[1]}

    def send():
        form = dict(data, photo=(io.BytesIO(png_bytes()), "p.png"))
        return client.post("/api/v1/patrol/hazards", data=form, headers=guard, content_type="multipart/form-data")

    first = send()
    assert first.status_code == 201, first.get_json()
    hz = first.get_json()
    assert hz["has_photo"] and hz["checkpoint"] == "检查点2"
    # The hazard became an incident through the incidents package, with its photo, for the team to follow up.
    inc = client.get(f"/api/v1/incidents/{hz['incident_id']}", headers=world.token(world.manager)).get_json()
    assert (inc["kind"], inc["severity"], inc["source"], inc["location"]) == ("other", "normal", "phone", "检查点2")
    assert inc["description"] == "消防通道被电动车堵住" and len(inc["photos"]) == 1
    assert send().status_code == 200  # a retried upload is the same hazard
    assert len(client.get("/api/v1/patrol/hazards", headers=guard).get_json()["items"]) == 1
    photo = client.get(f"/api/v1/patrol/hazards/{hz['id']}/photo", headers=guard)
    assert photo.status_code == 200 and photo.mimetype == "image/png" and photo.headers["X-Content-Type-Options"] == "nosniff"
    bad = client.post(
        "/api/v1/patrol/hazards",
        data={"id": "hazard-0002", "description": "x", "photo": (io.BytesIO(b"%PDF-1.4 not a photo"), "a.jpg")},
        headers=guard,
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["fields"]["photos"]["code"] == "photo_type"
    resident = world.token(world.r1)
    assert client.get(f"/api/v1/patrol/hazards/{hz['id']}/photo", headers=resident).status_code == 403
    other = world.token(other_site_staff(world, "guard"))
    assert client.get(f"/api/v1/patrol/hazards/{hz['id']}/photo", headers=other).status_code == 404
    closed = client.post(f"/api/v1/patrol/hazards/{hz['id']}/close", json={"note": "已清理"}, headers=guard).get_json()
    assert closed["status"] == "closed"
    report = client.get("/api/v1/patrol/report", headers=world.token(world.manager)).get_json()
    assert report["hazards_found"] == 1 and report["hazards_closed"] == 1 and report["hazards_open"] == 0
    assert client.get("/api/v1/patrol/report", headers=guard).status_code == 403
    assert client.get("/api/v1/patrol/report?from=nope", headers=world.token(world.manager)).status_code == 400


def test_pages_by_role(client, world, login_as):
    from tests.support import csrf

    _, r, _ = route(world)
    resident = login_as(world.r1)
    assert resident.get("/patrol/").status_code == 403
    guard = login_as(world.guard)
    page = guard.get("/patrol/")
    assert page.status_code == 200 and "夜间巡逻" in page.get_data(as_text=True)
    assert guard.get("/patrol/manage").status_code == 403 and guard.get("/patrol/stickers").status_code == 403
    resp = guard.post("/patrol/start", data={"route_id": r.id, "csrf_token": csrf(guard, "/patrol/")})
    assert resp.status_code == 302 and "/patrol/rounds/" in resp.headers["Location"]
    walk = guard.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="manual"' in walk and "patrol.js" in walk and "检查点3" in walk
    manager = login_as(world.manager)
    stickers_page = manager.get("/patrol/stickers").get_data(as_text=True)
    assert stickers_page.count('class="sticker"') == 3 and "data:image/png;base64," in stickers_page
    token = csrf(manager, "/patrol/manage")
    assert manager.post("/patrol/checkpoints", data={"name": "北门", "csrf_token": token}).status_code == 302
    assert "北门" in manager.get("/patrol/manage").get_data(as_text=True)
    resp = manager.post("/patrol/routes", data={"name": "白天", "stops": "999, 0", "csrf_token": token})
    assert resp.status_code == 302 and "白天" not in manager.get("/patrol/manage").get_data(as_text=True)
    assert manager.get("/patrol/report").status_code == 200
    assert manager.get("/patrol/report?from=2026-01-01&to=2026-01-31").status_code == 200
    bad_day = manager.get("/patrol/report?from=2026-02-30")
    assert bad_day.status_code == 400 and "请按 YYYY-MM-DD 格式填写日期。" in bad_day.get_data(as_text=True)
    backwards = manager.get("/patrol/report?from=2026-03-01&to=2026-01-31")
    assert backwards.status_code == 400 and "请选择不超过 400 天的时间段。" in backwards.get_data(as_text=True)


@pytest.mark.integration
def test_the_same_batch_sent_twice_at_once_is_stored_once_on_postgresql(pg_app, pg_world):
    from tests.support import race

    world = pg_world
    _, r, payloads = route(world)
    guard = world.token(world.guard)
    client = pg_app.test_client()
    rnd = start(client, guard, r.id)
    began = parse_iso(rnd["started_at"])
    batch = [scan(p, minutes(began, 0)) for p in payloads]
    hazard = {"id": "hazard-race-1", "description": "路灯不亮", "round_id": rnd["id"]}

    def sync(c):
        scans = c.post(f"/api/v1/patrol/rounds/{rnd['id']}/scans", json={"scans": batch}, headers=guard)
        found = c.post("/api/v1/patrol/hazards", json=hazard, headers=guard)
        return scans.status_code, scans.get_json(), found.status_code

    results = race(pg_app, 4, sync, client=True)
    assert all(res is not None and res[0] == 200 and res[2] in (200, 201) for res in results), results
    applied = sorted(i for _, body, _ in results for i in body["applied"])
    assert applied == sorted(s["id"] for s in batch)  # each scan applied by exactly one of the four
    assert db.session.scalar(db.select(db.func.count(Scan.id)).where(Scan.round_id == rnd["id"])) == 3
    from portal.patrol.models import Hazard

    assert db.session.scalar(db.select(db.func.count(Hazard.id))) == 1


def test_the_round_pages_service_worker_is_served_under_patrol_and_never_cached_stale(client):
    resp = client.get("/patrol/sw.js")
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    assert resp.headers["Cache-Control"] == "no-cache"
    body = resp.get_data(as_text=True)
    assert "/patrol/rounds/" in body and "API calls go straight out" in body


def test_the_hazards_page_shows_an_old_open_hazard_first_however_many_were_closed_since(world, login_as):
    from portal.patrol.models import Hazard

    now = utcnow()

    def hazard(n, status, age):
        return Hazard(
            site_id=world.site.id,
            reported_by_id=world.guard.id,
            client_id=f"h{n}",
            description=f"隐患{n}号",
            found_at=now - timedelta(days=age),
            status=status,
        )

    db.session.add(hazard(0, "open", 400))
    db.session.add_all(hazard(n, "closed", n % 300) for n in range(1, 251))
    db.session.commit()
    page = login_as(world.guard).get("/patrol/hazards").get_data(as_text=True)
    assert "隐患0号" in page and page.index("隐患0号") < page.index("隐患250号")  # the oldest closed comes after it
