"""The visitor's and the resident's pass pages (issue 15): exit-only passes, out-of-date codes, days and hours,
the invite form, sharing, extending, list filters and labels, in both languages."""

import html as htmllib
import re
from datetime import timedelta

import pytest
from conftest import each_database
from desk_support import csrf_from, login_page
from gate_support import qr_from_png, reason

from portal.core.timeutil import local, utcnow
from portal.extensions import db
from portal.passes.models import Pass
from portal.passes.operations import revoke_pass, sms_text

MWF = {"days": [1, 3, 5], "start": "08:00", "end": "12:00"}


def _text(resp):
    return htmllib.unescape(resp.get_data(as_text=True))


# 1. A used-up pass keeps an exit-only credential while the visitor is inside.


def test_used_up_pass_keeps_an_exit_only_code_until_the_visitor_leaves(client, world):
    p = world.make_pass(max_entries=1)
    _, header = world.device()
    assert reason(client, header, qr=qr_from_png(client, p), direction="in") == ("grant", "ok")
    page = _text(client.get(f"/p/{p.link_token}?lang=en"))
    assert 'id="qr"' in page and 'id="code"' in page
    assert "open the exit only, until you leave" in page and "Face entry" not in page
    assert "离开之前" in _text(client.get(f"/p/{p.link_token}?lang=zh"))
    live = client.get(f"/p/{p.link_token}/live").get_json()
    assert live["status"] == "used_up" and live["exit_only"] is True and live["qr"] and live["code"]
    shown = qr_from_png(client, p)
    assert reason(client, header, qr=shown, direction="in") == ("deny", "used_up")
    assert reason(client, header, qr=shown, direction="out") == ("grant", "ok")
    db.session.refresh(p)
    assert p.uses == 1 and p.last_direction == "out"
    page = _text(client.get(f"/p/{p.link_token}?lang=en"))
    assert "All entries of this pass have been used." in page and 'id="qr"' not in page
    assert client.get(f"/p/{p.link_token}/live").get_json()["qr"] is None
    assert client.get(f"/p/{p.link_token}/qr.png").status_code == 410


def test_exit_only_keypad_code_opens_the_exit_and_not_the_entry(client, world):
    p = world.make_pass(max_entries=1)
    _, header = world.device()
    assert reason(client, header, qr=qr_from_png(client, p), direction="in") == ("grant", "ok")
    code = client.get(f"/p/{p.link_token}/live").get_json()["code"]
    assert reason(client, header, code=code, direction="in") == ("deny", "used_up")
    assert reason(client, header, code=code, direction="out") == ("grant", "ok")  # a refused entry spent nothing
    db.session.refresh(p)
    assert p.uses == 1


def test_revoked_or_ended_used_up_pass_shows_no_code(client, world):
    p = world.make_pass(max_entries=1)
    p.uses = 1
    p.last_direction = "in"
    revoke_pass(p)
    db.session.commit()
    assert 'id="qr"' not in _text(client.get(f"/p/{p.link_token}"))
    assert client.get(f"/p/{p.link_token}/live").get_json()["qr"] is None


# 2. The out-of-date warning is on the page (the countdown itself runs in pass.js: tests/test_passes_pages_browser.py).


@pytest.mark.parametrize(
    "lang, words",
    [
        ("en", ["this code is out of date", "Move to where you have signal", "Trying again in {s} s.", "New code in {s} s."]),
        ("zh", ["此通行码已过期", "把键盘通行码念给保安", "{s} 秒后重试。"]),
    ],
)
def test_visitor_page_carries_the_out_of_date_warning(client, world, lang, words):
    p = world.make_pass()
    page = _text(client.get(f"/p/{p.link_token}?lang={lang}"))
    assert re.search(r'data-refresh-at="\d+" data-server-now="\d+" data-step="30"', page)
    for w in words:
        assert w in page
    assert re.search(r'<div id="stale"[^>]*hidden', page)


# 3. Days and hours wherever the validity appears.


def test_recurring_days_on_visitor_page_resident_pages_and_sms(client, world):
    p = world.make_pass(schedule=MWF, max_entries=None, visitor_phone="+8613812345678", notify="sms")
    assert "Mon, Wed, Fri, 08:00–12:00" in _text(client.get(f"/p/{p.link_token}?lang=en"))
    assert "周一、周三、周五 08:00–12:00" in _text(client.get(f"/p/{p.link_token}?lang=zh"))
    login_page(client, world, world.r1)
    assert "Mon, Wed, Fri, 08:00–12:00" in _text(client.get("/my/?lang=en"))
    assert "周一、周三、周五 08:00–12:00" in _text(client.get(f"/my/passes/{p.id}?lang=zh"))
    with world.app.test_request_context():
        text = sms_text(p)
    assert "仅限周一、周三、周五 08:00–12:00" in text and "only Mon, Wed, Fri, 08:00–12:00" in text


@pytest.mark.parametrize(
    "schedule, en, zh",
    [
        ({"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00"}, "Mon–Fri, 09:00–17:00", "周一至周五 09:00–17:00"),
        ({"days": [5, 6], "start": "22:00", "end": "06:00"}, "Fri, Sat, 22:00–06:00 (next day)", "周五、周六 22:00–次日06:00"),
        ({"days": [1, 2, 3, 4, 5, 6, 7], "start": "08:00", "end": "20:00"}, "Every day, 08:00–20:00", "每天 08:00–20:00"),
    ],
)
def test_schedule_words(app, schedule, en, zh):
    from flask_babel import force_locale

    from portal.passes.labels import schedule_text

    with app.test_request_context():
        with force_locale("en"):
            assert schedule_text(schedule) == en
        with force_locale("zh"):
            assert schedule_text(schedule) == zh


# 4. The invite form: presets, kind groups, single entry by default.


def test_invite_form_defaults_to_a_single_entry_guest_pass(client, world):
    login_page(client, world, world.r1)
    page = _text(client.get("/my/passes/new?lang=en"))
    assert re.search(r'name="max_entries"[^>]*value="1"', page) and "empty = unlimited" not in page
    assert re.search(r'<option selected value="guest">|<option value="guest" selected>', page)
    assert 'data-kinds="contractor"' in page  # the work area only for contractors
    for label in ("Guest today, 2 h", "Delivery, 30 min", "Cleaner, weekly"):
        assert label in page
    base = {
        "csrf_token": csrf_from(client, "/my/passes/new"),
        "unit_id": world.unit_a.id,
        "kind": "guest",
        "valid_from": "2030-01-01T10:00",
        "valid_until": "2030-01-01T12:00",
    }
    assert client.post("/my/passes/new", data=base | {"visitor_name": "甲"}).status_code == 302
    assert client.post("/my/passes/new", data=base | {"visitor_name": "乙", "max_entries": "1"}).status_code == 302
    assert client.post("/my/passes/new", data=base | {"visitor_name": "丙", "unlimited": "y"}).status_code == 302
    by_name = {p.visitor_name: p.max_entries for p in Pass.query.all()}
    assert by_name == {"甲": 1, "乙": 1, "丙": None}


def test_a_refused_invite_comes_back_with_why_in_both_languages_and_issues_nothing(client, world):
    login_page(client, world, world.r1)
    data = {
        "csrf_token": csrf_from(client, "/my/passes/new"),
        "unit_id": world.unit_a.id,
        "kind": "guest",
        "visitor_name": "丁",
        "valid_from": "2030-01-01T12:00",
        "valid_until": "2030-01-01T10:00",
    }
    for lang, why in (("en", "The pass must end after it starts."), ("zh", "结束时间必须晚于开始时间。")):
        resp = client.post(f"/my/passes/new?lang={lang}", data=data)
        page = _text(resp)
        assert resp.status_code == 400 and why in page and 'value="丁"' in page
    assert Pass.query.count() == 0


def test_invite_presets_fill_kind_window_entries_and_days(client, world):
    login_page(client, world, world.r1)
    page = _text(client.get("/my/passes/new?preset=delivery&lang=zh"))
    assert re.search(r'<option selected value="delivery">|<option value="delivery" selected>', page)
    start = re.search(r'name="valid_from"[^>]*value="([^"]+)"', page).group(1)
    end = re.search(r'name="valid_until"[^>]*value="([^"]+)"', page).group(1)
    assert (int(end[-5:-3]) * 60 + int(end[-2:]) - int(start[-5:-3]) * 60 - int(start[-2:])) % (24 * 60) == 30
    assert "快递，30 分钟" in page
    page = _text(client.get("/my/passes/new?preset=cleaner"))
    assert re.search(r'<option selected value="service">|<option value="service" selected>', page)
    assert re.search(r'name="unlimited"[^>]*checked|checked[^>]*name="unlimited"', page)
    assert 'value="09:00"' in page and 'value="12:00"' in page
    today = local(utcnow(), "Asia/Shanghai").isoweekday()
    assert re.search(rf'<option selected value="{today}">|<option value="{today}" selected>', page)


# 5. The resident's pass page: everything the pass holds, sharing, +1 h / +1 day.


def test_resident_pass_page_shows_everything_and_extends_by_an_hour_or_a_day(client, world):
    p = world.make_pass(
        kind="contractor",
        visitor_phone="+8613812345678",
        plate="京A12345",
        company="好家装修",
        work_area="厨房",
        schedule=MWF,
        notify="sms",
    )
    login_page(client, world, world.r1)
    page = _text(client.get(f"/my/passes/{p.id}?lang=en"))
    for word in (
        "+86 138****5678",
        "京A12345",
        "好家装修",
        "厨房",
        "Mon, Wed, Fri, 08:00–12:00",
        "Contractor",
        "Valid now",
        'id="share"',
        f'/p/{p.link_token}"',
        "+1 hour",
        "+1 day",
        "Waiting to be sent",
    ):
        assert word in page, word
    assert "13812345678" not in page
    before = p.valid_until
    token = csrf_from(client, f"/my/passes/{p.id}")
    assert client.post(f"/my/passes/{p.id}/extend", data={"csrf_token": token, "add": "1h"}).status_code == 302
    db.session.refresh(p)
    assert p.valid_until - before == timedelta(hours=1)
    client.post(f"/my/passes/{p.id}/extend", data={"csrf_token": token, "add": "1d"})
    db.session.refresh(p)
    assert p.valid_until - before == timedelta(hours=25)
    client.post(f"/my/passes/{p.id}/revoke", data={"csrf_token": token, "reason": "工期结束"})
    page = _text(client.get(f"/my/passes/{p.id}?lang=zh"))
    assert "工期结束" in page and "已取消" in page


# 6. and 7. The list: filters, kind and window, labels instead of codes; the approvals count.


def test_pass_list_filters_and_words(client, world):
    now = utcnow()
    live = world.make_pass(visitor_name="现在")
    later = world.make_pass(
        visitor_name="明天", kind="delivery", valid_from=now + timedelta(days=1), valid_until=now + timedelta(days=1, hours=1)
    )
    ended = world.make_pass(visitor_name="昨天", valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1))
    login_page(client, world, world.r1)
    page = _text(client.get("/my/?lang=en"))
    assert "现在" in page and "明天" in page and "昨天" not in page
    assert "Valid now" in page and "Not started yet" in page and "Guest" in page and "Delivery" in page
    assert ">active<" not in page and ">guest<" not in page.replace(" ", "")
    start = local(later.valid_from, later.timezone).strftime("%m-%d %H:%M")
    assert start in page
    assert "昨天" in _text(client.get("/my/?show=past")) and "现在" not in _text(client.get("/my/?show=past"))
    assert "明天" not in _text(client.get("/my/?show=live"))
    assert "现在" not in _text(client.get("/my/?show=upcoming"))
    assert ended.id and live.id


@each_database
def test_approvals_link_counts_waiting_visitors(client, world):
    """The nav counts the resident's units' pending walk-ins and deliveries: not another unit's, not expired ones."""
    from portal.walkins.models import WalkIn

    login_page(client, world, world.r1)
    assert "nav-count" not in _text(client.get("/my/"))
    guard = world.token(world.guard)
    for unit in (world.unit_a, world.unit_b):
        resp = client.post(
            "/api/v1/desk/walk-ins",
            headers=guard,
            json={"name": "赵六", "phone": "13900001111", "unit_id": unit.id, "gate_id": world.gate.id, "purpose": "送文件"},
        )
        assert resp.status_code in (200, 201), resp.get_json()
    page = _text(client.get("/my/?lang=en"))
    assert re.search(r'id="nav-approvals">Approvals <span class="nav-count"[^>]*>1</span>', page)
    resp = client.post(
        "/api/v1/desk/items", headers=guard, json={"unit_id": world.unit_a.id, "direction": "out", "description": "沙发"}
    )
    assert resp.status_code in (200, 201), resp.get_json()
    assert re.search(r'<span class="nav-count"[^>]*>2</span>', _text(client.get("/my/?lang=en")))
    walk_in = db.session.scalar(db.select(WalkIn).where(WalkIn.unit_id == world.unit_a.id))
    walk_in.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert re.search(r'<span class="nav-count"[^>]*>1</span>', _text(client.get("/my/?lang=en")))
