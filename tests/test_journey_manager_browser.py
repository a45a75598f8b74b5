"""The manager's journey in headless Chromium, from an empty (migrated) database to a visitor's QR opening the gate.

Only the first administrator is made with the CLI; everything else goes through pages: the community with two
buildings, units and two gates; a 200-row roll with three bad rows, fixed and imported again; a resident activated
from the SMS link; a guard who enrols with TOTP and logs in; an MQTT door and a gate reader from the device form; the
reader's token; the resident's invitation; the visitor's QR scanned at the gate. Screenshots of each main step at
360 and 1366 px wide are kept in tests/output/journey/.
"""

import io
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import zxingcpp
from bridge_support import fresh_simulators, run_bridge  # noqa: F401 - fresh_simulators is autouse
from browser_support import LiveServer, chromium, fill_mqtt_door, log_in, phone_context
from conftest import close_app, skip_unless
from drivers_support import MQTT_URL, DeviceProcess, reachable, unique_topic
from PIL import Image
from residents_support import activation_sms, link_path

from portal.accounts import auth
from portal.config import TestConfig
from portal.core import timeutil
from portal.extensions import db
from portal.staff import operations as staff_operations

pytestmark = [pytest.mark.integration, pytest.mark.browser]

OUT = Path(__file__).resolve().parent / "output" / "journey"
WIDTHS = (1366, 360)
ADMIN_PASSWORD = "the chief's long passphrase"
GUARD_PASSWORD = "a guard's long passphrase"
RESIDENT_PASSWORD = "a resident's long passphrase"
RESIDENT_PHONE = "+8613910000000"  # the roll's first row: the owner of A-0201
BAD_ROWS = {18: "phone", 89: "relation", 151: "move_in"}  # CSV line numbers (the header is line 1)


class Clock:
    """The time the login and the enrolment check TOTP codes against: frozen, moved one 30-s step per code."""

    def __init__(self):
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self):
        return self.now

    def code(self, secret):
        """The code of the next step (each step's code works once), cross-checked with oathtool when present."""
        self.now += timedelta(seconds=30)
        code = pyotp.TOTP(secret).at(self.now)
        if shutil.which("oathtool"):
            at = self.now.strftime("%Y-%m-%d %H:%M:%S UTC")
            out = subprocess.run(["oathtool", "--totp", "-b", "--now", at, secret], capture_output=True, text=True, check=True)
            assert out.stdout.strip() == code
        return code


class Shots:
    """Full-page screenshots of the main steps at a desk's and a phone's width, numbered in journey order."""

    def __init__(self, folder):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, self.n = folder, 0

    def __call__(self, page, name):
        self.n += 1
        size = page.viewport_size
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(self.folder / f"{self.n:02d}-{name}-{width}.png"), full_page=True, scale="css")
        page.set_viewport_size(size)


def roll_csv(fixed):
    """200 residents of 100 units (an owner and a family member each); unless fixed, three rows are wrong."""
    lines = ["building,unit,name,phone,relation,move_in"]
    for i in range(200):
        k = i // 2  # 60 units in tower A (floors 2-16), 40 in tower B (floors 2-11), four a floor
        building, j = ("A", k) if k < 60 else ("B", k - 60)
        number = f"{j // 4 + 2:02d}{j % 4 + 1:02d}"
        relation = "owner" if i % 2 == 0 else "family"
        lines.append(f"{building},{number},住户{i:03d},139{10000000 + i:08d},{relation},2026-01-{1 + i % 28:02d}")
    if not fixed:
        for line, field in BAD_ROWS.items():
            cells = lines[line - 1].split(",")
            cells[{"phone": 3, "relation": 4, "move_in": 5}[field]] = {
                "phone": "12345",
                "relation": "cousin",
                "move_in": "2026-13-40",
            }[field]
            lines[line - 1] = ",".join(cells)
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")  # with a BOM, as Excel saves "CSV UTF-8"


def decode_qr(png):
    """The texts of the QR codes in a PNG."""
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def submit(page, selector):
    """Click a submit button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def flashes(page):
    return page.inner_text("body")


@pytest.fixture
def empty_app(tmp_path):
    """An app on a new SQLite file brought up by the migrations: every table, no rows."""
    from flask_migrate import upgrade

    from portal.app import create_app

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'journey.db'}", SERVER_NAME=None)
    with app.app_context():
        upgrade()
        yield app
        close_app(app)


def _first_admin(app):
    """The one step outside the pages: `flask --app wsgi residents add --role admin` prints the TOTP secret."""
    args = ["residents", "add", "--role", "admin", "--login", "chief", "--name", "王总", "--password", ADMIN_PASSWORD]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return re.search(r"TOTP secret ([A-Z2-7]+)", result.output).group(1)


def _open_community(page, base, shots):
    """From the desk's menu to a new community with its details."""
    page.click("#nav-community")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Communities" and "No community yet" in page.inner_text("main")
    form = "#new-site"
    page.fill(f"{form} input[name=slug]", "lotus-court")
    page.fill(f"{form} input[name=name]", "荷花苑")
    page.fill(f"{form} input[name=name_en]", "Lotus Court")
    page.fill(f"{form} input[name=timezone]", "Asia/Shanghai")
    page.fill(f"{form} input[name=address]", "上海市徐汇区荷花路 8 号")
    shots(page, "community-form")
    submit(page, f"{form} button[type=submit]")
    assert page.inner_text("h1") == "Lotus Court"
    assert "Community created. Add its buildings and gates." in flashes(page)


def _to_community(page):
    """Through the menu to the community's page (an all-sites admin picks it from the list)."""
    page.click("#nav-community")
    page.wait_for_load_state()
    submit(page, "main table a:text-is('Lotus Court')")
    assert page.inner_text("h1") == "Lotus Court"


def _add_building(page, code, name, name_en, low, high, unit, floor):
    form = "#new-building"
    page.fill(f"{form} input[name=code]", code)
    page.fill(f"{form} input[name=name]", name)
    page.fill(f"{form} input[name=name_en]", name_en)
    page.fill(f"{form} input[name=lowest_floor]", str(low))
    page.fill(f"{form} input[name=highest_floor]", str(high))
    submit(page, f"{form} button[type=submit]")
    assert page.inner_text("h1").startswith(name_en) and f"Building {name} added." in flashes(page)
    page.fill("#new-unit input[name=number]", unit)
    page.fill("#new-unit input[name=floor]", str(floor))
    submit(page, "#new-unit button[type=submit]")
    assert "Unit added." in flashes(page)
    assert page.locator("table.units input[name=number]").input_value() == unit
    submit(page, "text=Back to the community")


def _add_gate(page, code, name, name_en, kind):
    form = "#new-gate"
    page.fill(f"{form} input[name=code]", code)
    page.fill(f"{form} input[name=name]", name)
    page.fill(f"{form} input[name=name_en]", name_en)
    page.select_option(f"{form} select[name=kind]", kind)
    submit(page, f"{form} button[type=submit]")
    assert "Gate added." in flashes(page)


def _places(page, shots):
    _add_building(page, "A", "A栋", "Tower A", -1, 18, "0201", 2)
    _add_building(page, "B", "B栋", "Tower B", 1, 11, "0201", 2)
    _add_gate(page, "N", "北门", "North gate", "pedestrian")
    _add_gate(page, "G", "车库入口", "Car park entrance", "vehicle")
    buildings = page.locator("#buildings + table tbody tr").all_inner_texts()
    assert [" ".join(r.split()) for r in buildings] == ["A Tower A -1 – 18 1", "B Tower B 1 – 11 1"]
    gates = " ".join(page.locator("#gates + table tbody").inner_text().split())
    assert "North gate Pedestrians" in gates and "Car park entrance Cars" in gates
    shots(page, "community-places")


def _upload(page, data):
    page.set_input_files("input[name=file]", files=[{"name": "roll.csv", "mimeType": "text/csv", "buffer": data}])
    page.check("input[name=create_places]")
    submit(page, "text=Check the file")
    return " ".join(page.inner_text("section.card:has(h2:text-is('Dry run')) > p").split())


def _import_roll(page, shots):
    """Dry run with three errors shown by row and field; nothing applied; fixed, imported; again, nothing changes."""
    page.click("#nav-roll")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Import the residents' roll"
    summary = _upload(page, roll_csv(fixed=False))
    assert summary == "197 new, 0 changed, 0 unchanged, 3 rows in error.", summary
    errors = {}
    for tr in page.locator("table.roll tr.error").all():
        errors[int(tr.get_attribute("data-row"))] = tr.locator(".field-error .field").inner_text()
    assert errors == {18: "Phone", 89: "Relation", 151: "Move-in date"}
    assert "Not a valid phone number." in page.inner_text("tr[data-row='18'] .field-error")
    shots(page, "roll-dry-run-errors")
    submit(page, "button:has-text('Import')")
    assert "Nothing was imported: some rows are in error." in flashes(page)

    summary = _upload(page, roll_csv(fixed=True))
    assert summary == "200 new, 0 changed, 0 unchanged, 0 rows in error.", summary
    submit(page, "button:has-text('Import')")
    assert "Roll imported: 200 new, 0 changed, 0 unchanged, 0 rows skipped." in flashes(page)
    shots(page, "roll-imported")

    summary = _upload(page, roll_csv(fixed=True))
    assert summary == "0 new, 0 changed, 200 unchanged, 0 rows in error.", summary
    submit(page, "button:has-text('Import')")
    assert "Roll imported: 0 new, 0 changed, 200 unchanged, 0 rows skipped." in flashes(page)


def _guard_enrols(browser, page, base, clock, shots):
    """The manager adds a guard; the guard opens the link on a phone, scans the QR, keeps the codes, logs in."""
    _to_community(page)
    page.click("#nav-staff")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Staff"
    page.fill("input[name=login]", "guard.liu")
    page.fill("input[name=name]", "刘保安")
    page.select_option("select[name=role]", "guard")
    page.fill("input[name=phone]", "13800138000")
    submit(page, "form.card button[type=submit]")
    link = page.inner_text("#enrol-link code.secret").strip()
    assert "/enrol/vpe_" in link
    row = " ".join(page.locator("table.staff tr", has_text="guard.liu").inner_text().split())
    assert "刘保安 Guard Active Waiting for enrolment" in row, row
    shots(page, "staff-added")

    phone = phone_context(browser, locale="en-US").new_page()
    phone.goto(link)
    assert phone.inner_text("h1") == "Set up your account"
    phone.fill("input[name=password]", GUARD_PASSWORD)
    phone.fill("input[name=confirm]", GUARD_PASSWORD)
    scanned = decode_qr(phone.locator("img[alt='Authenticator QR code']").screenshot())
    assert scanned and scanned[0].startswith("otpauth://totp/guard.liu?")
    secret = parse_qs(urlparse(scanned[0]).query)["secret"][0]
    assert secret == phone.inner_text("main code").strip()  # the key typed by hand is the one in the QR
    phone.fill("input[name=otp]", clock.code(secret))
    shots(phone, "guard-enrol")
    submit(phone, "button:has-text('Finish')")
    assert phone.inner_text("h1") == "Your recovery codes", phone.inner_text("body")
    assert phone.locator("ul.recovery-codes li").count() == 10
    shots(phone, "guard-recovery-codes")
    submit(phone, "a:has-text('Log in')")
    log_in(phone, base, "guard.liu", GUARD_PASSWORD, clock.code(secret))
    assert "Live board" in phone.inner_text("nav.desk-nav")
    # On a phone the menu is one sideways-scrolling row per group, the page itself never scrolls sideways,
    # and the page the guard is on is marked.
    nav = phone.locator("nav.desk-nav").bounding_box()
    assert nav["height"] < 170, nav
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert phone.locator("nav.desk-nav a[aria-current=page]").inner_text() == "Live board"
    shots(phone, "guard-desk-phone")
    phone.context.close()


def _devices(app, page, shots):
    """An MQTT door from the device form, answering its connection test; a gate reader and its token, with a QR."""
    topic = unique_topic("journey")
    controller = DeviceProcess(MQTT_URL, "--topic", topic)  # the door controller on Mosquitto
    try:
        _mqtt_door(app, page, topic, shots)
    finally:
        controller.stop()
    return _gate_reader(page, shots)


def _mqtt_door(app, page, topic, shots):
    _to_community(page)
    page.click("#nav-devices")
    page.wait_for_load_state()
    submit(page, "text=Add a device")
    page.select_option(".driver-pick select[name=driver]", "mqtt")
    submit(page, ".driver-pick button")
    assert page.inner_text("h1") == "Add a device"
    fill_mqtt_door(page, MQTT_URL, topic)
    shots(page, "device-mqtt-form")
    submit(page, "button:has-text('Save')")
    assert "Device added" in page.inner_text("main"), page.inner_text("main")
    assert page.inner_text("h1").startswith("east-door")
    submit(page, "text=Test connection")
    page.wait_for_selector("#check[data-status=queued]")
    run_bridge(app)  # the bridge takes the request from the database and asks the controller over MQTT
    page.wait_for_selector("#check.check-ok", timeout=5000)  # the page polled and shows the answer
    assert "The device answered" in page.inner_text("#check")
    shots(page, "device-mqtt-answered")


def _gate_reader(page, shots):
    _to_community(page)
    page.click("#nav-devices")
    page.wait_for_load_state()
    assert "east-door" in page.inner_text("table.devices")
    submit(page, "text=Add a device")
    page.fill("#name", "north-reader")
    page.select_option("#kind", "gate_reader")
    page.select_option("#gates", label="North gate")
    submit(page, "button:has-text('Save')")
    assert "Device added" in page.inner_text("main"), page.inner_text("main")
    page.fill(".token-issue input[name=name]", "north gate reader")
    submit(page, ".token-issue button[type=submit]")
    assert page.inner_text("h1") == "New device token"
    token = page.inner_text("#token").strip()
    assert decode_qr(page.locator("main img").screenshot()) == [token]
    shots(page, "device-token")
    return token


def _activate_resident(browser, base, shots):
    """One resident of the roll opens the link of their SMS on a phone, sets a password and lands logged in."""
    db.session.expire_all()
    assert len(activation_sms()) == 200  # one SMS per new resident; the second import sent none
    sms = activation_sms(RESIDENT_PHONE)
    assert len(sms) == 1
    page = phone_context(browser).new_page()
    page.goto(base + link_path(sms[0]))
    assert page.inner_text("h1") == "激活账号"
    login = re.search(r"您的登录名是 (\S+)。", page.inner_text("main")).group(1)
    page.fill("input[name=password]", RESIDENT_PASSWORD)
    page.fill("input[name=confirm]", RESIDENT_PASSWORD)
    shots(page, "resident-activate")
    submit(page, "main button[type=submit]")
    assert page.url.endswith("/my/") and "密码已设置，欢迎！" in page.inner_text("body"), page.inner_text("body")
    shots(page, "resident-activated")
    page.context.close()
    return login


def _resident_invites(browser, base, login, shots):
    """The activated resident logs in on their phone and invites a visitor; the pass links to the visitor's page."""
    page = phone_context(browser).new_page()
    log_in(page, base, login, RESIDENT_PASSWORD)
    submit(page, "main a:text-is('邀请访客')")
    assert page.inner_text("h1") == "邀请访客"
    page.fill("input[name=visitor_name]", "王小明")
    shots(page, "resident-invite")
    submit(page, "#invite button[type=submit]")
    assert page.inner_text("h1").startswith("王小明"), page.inner_text("body")
    shots(page, "resident-pass")
    return page.get_attribute("#pass-link", "href")


def _visitor_at_the_gate(browser, base, link, token, shots, monkeypatch):
    """The visitor's pass page on a phone: the QR in its screenshot, sent by the reader, opens the gate."""
    now = int(time.time())
    monkeypatch.setattr(timeutil, "now_ts", lambda: now)  # the page's QR step cannot turn before the scan
    visitor = phone_context(browser).new_page()
    found = []
    for _ in range(3):  # retry if a screenshot could not be decoded
        visitor.goto(link, wait_until="load")
        found = decode_qr(visitor.screenshot(full_page=True))
        if found:
            break
    assert found, "no QR in the visitor's pass page"
    shots(visitor, "visitor-pass")
    headers = {"Authorization": f"Bearer {token}"}
    answer = visitor.context.request.post(f"{base}/api/v1/gate/verify", data={"qr": found[0]}, headers=headers)
    assert answer.status == 200 and answer.json()["decision"] == "grant", answer.text()
    again = visitor.context.request.post(f"{base}/api/v1/gate/verify", data={"qr": found[0]}, headers=headers)
    assert again.json()["decision"] == "deny"  # one entry: the same QR does not open the gate twice
    visitor.context.close()


def test_a_community_from_an_empty_database_to_a_visitor_at_the_gate(empty_app, monkeypatch, record_property):
    skip_unless(reachable(MQTT_URL), f"no MQTT broker at {MQTT_URL}")
    from portal.accounts.models import User
    from portal.sites.models import Site

    started = time.monotonic()
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(Site)) == 0
    clock = Clock()
    monkeypatch.setattr(auth, "utcnow", clock)  # TOTP steps move with the codes, not with the wall clock
    monkeypatch.setattr(staff_operations, "utcnow", clock)
    secret = _first_admin(empty_app)
    shots = Shots(OUT)
    print(f"\njourney screenshots: {OUT}")
    record_property("screenshots", str(OUT))  # in the JUnit report too
    with LiveServer(empty_app) as srv, chromium() as browser:
        base = srv.url
        desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US").new_page()
        log_in(desk, base, "chief", ADMIN_PASSWORD, clock.code(secret))
        _open_community(desk, base, shots)
        _places(desk, shots)
        _import_roll(desk, shots)
        _guard_enrols(browser, desk, base, clock, shots)
        token = _devices(empty_app, desk, shots)
        login = _activate_resident(browser, base, shots)
        link = _resident_invites(browser, base, login, shots)
        _visitor_at_the_gate(browser, base, link, token, shots, monkeypatch)
    print(f"journey: {shots.n} steps, {2 * shots.n} screenshots in {OUT}, {time.monotonic() - started:.1f} s")
