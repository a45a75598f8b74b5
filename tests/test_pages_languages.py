"""Staff and visitor pages read naturally in the page's language: labels, errors, names, exports, charts (issue 15)."""

import csv
import io
import logging
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from portal.bridge.models import DeviceCredential
from portal.core.timeutil import utcnow
from portal.extensions import db
from tests.desk_support import csrf_from, event, login_page

ROOT = Path(__file__).resolve().parent.parent


def _staff(client, world, user=None, lang="en"):
    login_page(client, world, user or world.guard)
    client.get(f"/desk/?lang={lang}")  # the language sticks to the session
    return client


@pytest.mark.parametrize(
    "lang, title, werkzeug", [("en", "This page does not exist", "Not Found"), ("zh", "页面不存在", "Not Found")]
)
def test_error_pages_speak_the_page_language(client, lang, title, werkzeug):
    resp = client.get(f"/no-such-page?lang={lang}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404 and title in html and werkzeug not in html


def test_forbidden_page_is_translated(client, world):
    login_page(client, world, world.r1)
    html = client.get("/devices/?lang=zh").get_data(as_text=True)
    assert "您无权查看此页面" in html and "Forbidden" not in html


@pytest.mark.parametrize(
    "path",
    [
        "/desk/",
        "/devices/",
        "/team/feedback/",
        "/team/feedback/follow-ups",
        "/team/feedback/escalations",
        "/team/reports/",
        "/team/reports/quarterly",
        "/desk/faces/search",
        "/watchlist/",
    ],
)
def test_staff_pages_share_one_navigation(client, world, path):
    _staff(client, world, world.manager)
    html = client.get(path).get_data(as_text=True)
    assert 'class="desk-nav"' in html and 'href="/devices/"' in html and 'href="/team/feedback/"' in html


def test_face_consent_error_only_in_the_page_language(client, world):
    from tests.feedback_support import csrf_from as token_in

    p = world.make_pass()
    page = client.get(f"/p/{p.link_token}/face?lang=zh").get_data(as_text=True)
    resp = client.post(f"/p/{p.link_token}/face/consent", data={"csrf_token": token_in(page)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "请勾选方框以表示同意。" in html and "Tick the box" not in html


def test_checkboxes_share_one_layout():
    """The rule that keeps a checkbox beside its words lives in the stylesheet every page loads."""
    app_css = (ROOT / "portal/static/app.css").read_text()
    assert "label.inline {" in app_css and 'input[type="checkbox"]' in app_css
    assert "label.inline" not in (ROOT / "portal/static/feedback.css").read_text()
    assert '<label class="inline"><input type="checkbox" name="agree"' in (ROOT / "templates/faces/enrol.html").read_text()


def test_quarterly_without_a_query_is_this_quarter(client, world):
    from portal.reports.periods import current_quarter

    _staff(client, world, world.manager)
    year, q = current_quarter(world.site.timezone)
    resp = client.get("/team/reports/quarterly")
    assert resp.status_code == 200 and f"{year} Q{q}" in resp.get_data(as_text=True)
    assert client.get("/team/reports/quarterly?year=1999&q=1").status_code == 400


def test_on_site_csv_page_uses_labels_api_keeps_codes(client, world):
    p = world.make_pass(kind="contractor", company="装修队")
    event(world, pass_id=p.id, direction="in")
    _staff(client, world)
    rows = list(csv.reader(io.StringIO(client.get("/desk/on-site.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:5] == ["Building", "Unit", "Visitor", "Phone", "Kind"] and rows[1][4] == "Contractor"
    client.get("/desk/?lang=zh")
    rows = list(csv.reader(io.StringIO(client.get("/desk/on-site.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "楼栋" and rows[1][4] == "施工人员"
    api = client.get("/api/v1/desk/on-site.csv", headers=world.token(world.guard)).get_data(as_text=True)
    assert api.lstrip("\ufeff").startswith("building,unit,visitor")


def test_report_csvs_use_labels(client, world):
    from portal.feedback import operations as fb

    with world.app.test_request_context():
        c = fb.file_complaint(
            world.r1,
            world.site,
            world.unit_a,
            {"kind": "complaint", "category": "noise", "location": "A栋", "anonymous": False, "description": "吵"},
        )
        fb.triage(c, world.manager, "high")
        db.session.commit()
    _staff(client, world, world.manager)
    text = client.get("/team/reports/complaints.csv").get_data(as_text=True).lstrip("\ufeff")
    row = next(csv.DictReader(io.StringIO(text)))
    assert (row["Kind"], row["Category"], row["Priority"], row["Status"]) == ("Complaint", "Noise", "High", "Triaged")
    kpi = client.get("/team/reports/kpi.csv").get_data(as_text=True)
    assert "Section,Figure,Value" in kpi and "Complaints,Complaints filed,1" in kpi and "rate" not in kpi


def test_console_sms_prints_whole_links_in_development_only(capsys, caplog):
    from portal.notify.backends import ConsoleBackend

    body = "[阳光花园] 您的通行证：https://visit.example.com/p/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    ConsoleBackend({"DEMO_MODE": True}).send("+8613812345678", body)
    assert "https://visit.example.com/p/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" in capsys.readouterr().out
    with caplog.at_level(logging.INFO, logger="portal.notify.backends"):
        ConsoleBackend({}).send("+8613812345678", body)
    assert "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" not in caplog.text + capsys.readouterr().out


def test_devserver_prints_the_url_only_once_the_port_answers():
    from portal.devserver import wait_for_port

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert wait_for_port("127.0.0.1", port, idle, timeout=0.5) is False  # bound, not listening yet
            s.listen()
            assert wait_for_port("127.0.0.1", port, idle, timeout=5) is True
        finally:
            idle.kill()
            idle.wait()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert wait_for_port("127.0.0.1", port, dead, timeout=5) is False


def test_board_shows_direction_and_remote_door_and_guard(client, world):
    from portal.desk.operations import remote_open

    dev, _ = world.device(name="A栋门禁", kind="door_controller", gates=[])
    dev.name_en, dev.doors = "Block A door", [1, 2]
    with world.app.test_request_context():
        remote_open(world.guard, dev, "快递员", door=2)
        db.session.commit()
    event(world, direction="out")
    _staff(client, world)
    html = client.get("/desk/").get_data(as_text=True)
    assert "Granted · Out" in html and 'data-ok="Live"' in html  # the feed's badge is a word, not a code
    assert "Opened remotely · Block A door · door 2 · 王师傅" in html
    html = client.get("/desk/?lang=zh").get_data(as_text=True)
    assert "A栋门禁 · 2 号门 · 王师傅" in html


def test_take_says_so_and_closed_list_shows_the_note(client, world):
    from portal.desk.operations import open_exception

    with world.app.test_request_context():
        x = open_exception(world.site.id, "denied", "k", gate_id=world.gate.id, details={})
        db.session.commit()
    _staff(client, world)
    token = csrf_from(client, "/desk/exceptions")
    html = client.post(f"/desk/exceptions/{x.id}/take", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert f"Exception #{x.id} is yours now." in html and "Being handled" in html
    client.post(f"/desk/exceptions/{x.id}/close", data={"csrf_token": token, "outcome": "false_alarm", "note": "猫碰到了读头"})
    html = client.get("/desk/exceptions?status=closed").get_data(as_text=True)
    assert "猫碰到了读头" in html and "Closed" in html


def test_device_page_names_targets_and_order(client, world):
    from portal.sites import operations as places

    with world.app.test_request_context():
        zed = places.add_gate(world.site, "ZED", "侧门", name_en="Side gate")
        db.session.commit()
    dev, _ = world.device(name="正门读头", gates=[zed, world.gate])
    dev.name_en = "Main gate reader"
    world.gate.name_en = "Main gate"
    for key in ("p10", "p9", "p100", "p2"):
        db.session.add(DeviceCredential(device_id=dev.id, key=key, desired="present", status="ok", next_attempt_at=utcnow()))
    db.session.add(
        DeviceCredential(
            device_id=dev.id, key="p1", desired="absent", status="pending", next_attempt_at=utcnow() + timedelta(minutes=1)
        )
    )
    db.session.commit()
    _staff(client, world, world.manager)
    html = client.get(f"/devices/{dev.id}").get_data(as_text=True)
    assert "<h1>Main gate reader</h1>" in html
    assert "Gates: Main gate, Side gate" in html
    assert "Should be on the device" in html and "Should be removed from the device" in html
    keys = ["p1", "p2", "p9", "p10", "p100"]
    positions = [html.index(f'data-key="{k}"') for k in keys]
    assert positions == sorted(positions)
    listing = client.get("/devices/").get_data(as_text=True)
    assert "Main gate reader" in listing and "Simulator" in listing
    client.get("/desk/?lang=zh")
    assert "<h1>正门读头</h1>" in client.get(f"/devices/{dev.id}").get_data(as_text=True)


def test_device_english_name_is_edited_on_the_form(client, world):
    dev, _ = world.device(name="正门读头")
    _staff(client, world, world.manager)
    token = csrf_from(client, f"/devices/{dev.id}/edit")
    resp = client.post(
        f"/devices/{dev.id}/edit", data={"csrf_token": token, "name": "正门读头", "name_en": "Main gate reader", "options": "{}"}
    )
    assert resp.status_code == 302
    db.session.refresh(dev)
    assert dev.name_en == "Main gate reader"


def test_denial_chart_fits_its_longest_label():
    from portal.reports.charts import hbars, text_width

    label = "Pass for another community, forged or damaged"
    svg = str(hbars([(label, 3), ("Unknown code", 1)], "Denied by reason"))
    x = float(svg.split('<text x="')[1].split('"')[0])  # right edge of the label column
    assert x >= text_width(label)


def test_demo_names_devices_and_buildings_in_both_languages(app):
    """`make run` shows bilingual names; a demo database from before (English device names) is renamed, not doubled."""
    import json

    from portal.devices.models import Device
    from portal.sites.models import Building

    def run():
        out = app.test_cli_runner().invoke(args=["demo"])
        assert out.exit_code == 0, out.output
        return json.loads(out.output.strip().splitlines()[-1])

    first = run()
    gate = db.session.get(Device, first["devices"]["gate"]["id"])
    gate.name, gate.name_en = "Main gate reader", None  # as the demo used to name it
    db.session.commit()
    run()
    db.session.expire_all()
    names = {(d.name, d.name_en) for d in db.session.scalars(db.select(Device))}
    assert ("正门读头", "Main gate reader") in names and len(names) == 4
    assert {b.name_en for b in db.session.scalars(db.select(Building))} == {"Block A", "Block B"}


def test_bar_chart_axis_fits_large_numbers():
    from portal.reports.charts import bars, text_width

    svg = str(bars([("12-01", 123456), ("12-02", 5)], "Entries per day"))
    axis_right = float(svg.split('<text x="')[1].split('"')[0])  # the top value, anchored at its end
    assert axis_right - text_width("123456") >= 0


def test_units_use_the_buildings_english_name_on_english_pages(client, world):
    world.bldg_a.name_en = "Block A"
    db.session.commit()
    _staff(client, world)
    assert "Block A 1201" in client.get("/desk/walk-ins").get_data(as_text=True)
    client.get("/desk/?lang=zh")
    html = client.get("/desk/walk-ins").get_data(as_text=True)
    assert "A栋 1201" in html and "Block A" not in html
    assert world.unit_a.label == "A栋 1201"  # outside a request (CLI, worker): the name as stored


def test_cli_sets_english_names(app):
    from portal.devices.models import Device
    from portal.sites.models import Building, Gate

    def ok(*args):
        out = app.test_cli_runner().invoke(args=list(args))
        assert out.exit_code == 0, out.output

    ok("sites", "add", "--slug", "lake", "--name", "湖畔小区")
    ok("sites", "add-building", "--site", "lake", "--code", "1", "--name", "1号楼", "--name-en", "Block 1")
    ok("sites", "add-gate", "--site", "lake", "--code", "N", "--name", "北门", "--name-en", "North gate")
    ok("devices", "add", "--site", "lake", "--name", "北门读头", "--kind", "gate_reader", "--name-en", "North gate reader")
    assert db.session.scalar(db.select(Building.name_en)) == "Block 1"
    assert db.session.scalar(db.select(Gate.name_en)) == "North gate"
    assert db.session.scalar(db.select(Device.name_en)) == "North gate reader"
