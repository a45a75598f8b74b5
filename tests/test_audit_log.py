"""The managers' audit log: filters, pages, the site's rows only, CSV safe in a spreadsheet."""

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from portal.audit.models import AuditEntry
from portal.core.timeutil import utcnow
from portal.extensions import db

PAGE = "/team/audit/"
CSV = "/team/audit/audit.csv"


def _entry(world, action, site=None, actor=None, object_type="site", object_id="1", at=None, **details):
    site = site or world.site
    row = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_kind="user" if actor else "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        site_id=site.id,
        at=at or utcnow(),
        details=details,
    )
    db.session.add(row)
    db.session.commit()
    return row


def _ids(html):
    import re

    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)]


def test_filters_by_actor_action_object_and_time(world, manager_client):
    old = _entry(world, "gate.update", actor=world.manager, object_type="gate", object_id="7", at=utcnow() - timedelta(days=40))
    mine = _entry(world, "site.settings", actor=world.manager)
    guard = _entry(world, "desk.remote_open", actor=world.guard, object_type="device", object_id="3")
    elsewhere = _entry(world, "site.settings", site=world.other_site)
    everything = _ids(manager_client.get(PAGE).get_data(as_text=True))
    assert {old.id, mine.id, guard.id} <= set(everything) and elsewhere.id not in everything
    assert everything == sorted(everything, reverse=True)
    by_actor = _ids(manager_client.get(f"{PAGE}?actor={world.guard.id}").get_data(as_text=True))
    assert guard.id in by_actor and mine.id not in by_actor
    assert _ids(manager_client.get(f"{PAGE}?action=site.settings").get_data(as_text=True)) == [mine.id]
    family = _ids(manager_client.get(f"{PAGE}?action=desk.").get_data(as_text=True))
    assert guard.id in family and mine.id not in family
    assert _ids(manager_client.get(f"{PAGE}?object=gate&object_id=7").get_data(as_text=True)) == [old.id]
    # The filter's dates are the site's own (Asia/Shanghai): from 16:00 UTC its day is already tomorrow's.
    local_now = utcnow().astimezone(ZoneInfo(world.site.timezone))
    day = (local_now - timedelta(days=40)).strftime("%Y-%m-%d")
    before = (local_now - timedelta(days=39)).strftime("%Y-%m-%d")
    assert old.id in _ids(manager_client.get(f"{PAGE}?to={before}").get_data(as_text=True))
    recent = _ids(manager_client.get(f"{PAGE}?from={before}").get_data(as_text=True))
    assert old.id not in recent and mine.id in recent
    assert _ids(manager_client.get(f"{PAGE}?from={day}&to={day}&object=gate").get_data(as_text=True)) == [old.id]


def test_bad_dates_are_explained_in_the_page_language(world, manager_client):
    en = manager_client.get(f"{PAGE}?from=yesterday&lang=en")
    assert en.status_code == 400 and "Write the date as YYYY-MM-DD" in en.get_data(as_text=True)
    zh = manager_client.get(f"{PAGE}?from=2026-13-45&lang=zh").get_data(as_text=True)
    assert "YYYY-MM-DD" in zh and "Write the date" not in zh
    order = manager_client.get(f"{PAGE}?from=2026-12-05&to=2026-12-01&lang=en").get_data(as_text=True)
    assert "The end date is before the start date." in order


def test_pages_of_fifty(world, manager_client):
    for n in range(60):
        _entry(world, "unit.update", object_type="unit", object_id=str(n))
    first = manager_client.get(f"{PAGE}?action=unit.update").get_data(as_text=True)
    second = manager_client.get(f"{PAGE}?action=unit.update&page=2").get_data(as_text=True)
    assert len(_ids(first)) == 50 and len(_ids(second)) == 10 and not set(_ids(first)) & set(_ids(second))
    assert "page=2" in first and "page=2" not in second.split("</table>")[1].split("Page")[-1]


def test_residents_are_named_by_number_only(world, manager_client):
    _entry(world, "pass.create", actor=world.r1, object_type="pass", object_id="5")
    html = manager_client.get(f"{PAGE}?lang=en").get_data(as_text=True)
    assert f"Resident #{world.r1.id}" in html and world.r1.display_name not in html
    assert f"{world.manager.display_name} ({world.manager.login})" in html  # staff by name and login


def test_csv_export_is_filtered_neutralised_and_audited(world, manager_client):
    _entry(world, "site.settings", actor=world.manager, note='=HYPERLINK("http://evil")')
    _entry(world, "gate.update", object_type="gate", object_id="@SUM(1)")
    _entry(world, "site.settings", site=world.other_site)
    resp = manager_client.get(f"{CSV}?action=site.settings&lang=en")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Time", "Actor", "Action"]
    assert len(rows) == 2 and rows[1][2] == "site.settings" and rows[1][5] == "sunny"
    gate = list(csv.reader(io.StringIO(manager_client.get(f"{CSV}?object=gate").get_data(as_text=True).lstrip("\ufeff"))))
    assert gate[1][4] == "'@SUM(1)"
    export = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "audit.export").order_by(AuditEntry.id))
    assert export.actor_id == world.manager.id and export.details["rows"] == 1 and export.site_id == world.site.id
    assert "Time" not in manager_client.get(f"{CSV}?lang=zh").get_data(as_text=True).splitlines()[0]


def test_roles(world, resident_client, guard_client, admin_client):
    other = _entry(world, "site.settings", site=world.other_site)
    for c in (resident_client, guard_client):
        assert c.get(PAGE).status_code == 403 and c.get(CSV).status_code == 403
    # An all-sites admin sees every community, or the one picked.
    assert other.id in _ids(admin_client.get(PAGE).get_data(as_text=True))
    assert other.id not in _ids(admin_client.get(f"{PAGE}?site_id={world.site.id}").get_data(as_text=True))
