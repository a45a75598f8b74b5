"""An all-sites admin runs one community from its page: roll import, staff and devices for that community only."""

import pytest
from support import csrf

from portal.accounts.models import Residency, User
from portal.extensions import db
from portal.sites import operations as places
from portal.sites.models import Building, Unit

ROLL = "building,unit,name,phone,relation,move_in\nC,0101,高远,13912349001,owner,2026-02-01\n"


@pytest.fixture
def second(world):
    """A second community, opened after the world's (so it is not the one picked when no site is named)."""
    site = places.create_site("second", "第二花园", timezone="Asia/Shanghai")
    places.add_unit(places.add_building(site, "C", "C栋", 1, 6), "0101", 1)
    db.session.commit()
    return site


def test_community_page_links_to_its_own_import_staff_and_devices(admin_client, second):
    html = admin_client.get(f"/team/community/{second.slug}/").get_data(as_text=True)
    for endpoint in ("/team/residents/import", "/staff/", "/devices/"):
        assert f'href="{endpoint}?site_id={second.id}"' in html


def test_a_site_managers_links_name_no_site(manager_client, world):
    html = manager_client.get(f"/team/community/{world.site.slug}/").get_data(as_text=True)
    assert 'href="/staff/"' in html and 'href="/team/residents/import"' in html and "site_id=" not in html
    assert 'action="/staff/"' in manager_client.get("/staff/").get_data(as_text=True)


def test_admin_adds_a_guard_to_the_community_of_the_page(admin_client, second):
    page = admin_client.get(f"/staff/?site_id={second.id}").get_data(as_text=True)
    assert f'action="/staff/?site_id={second.id}"' in page
    data = {"csrf_token": csrf(admin_client, "/staff/"), "login": "guard.c", "name": "高保安", "role": "guard"}
    resp = admin_client.post(f"/staff/?site_id={second.id}", data=data)
    assert resp.status_code == 200 and "/enrol/vpe_" in resp.get_data(as_text=True)
    assert db.session.scalar(db.select(User).where(User.login == "guard.c")).site_id == second.id


def test_admin_imports_the_roll_of_the_community_of_the_page(admin_client, world, second):
    path = f"/team/residents/import?site_id={second.id}"
    page = admin_client.get(path).get_data(as_text=True)
    assert page.count(f'action="{path}"') == 1
    data = {"csrf_token": csrf(admin_client, path), "roll": ROLL}
    dry = admin_client.post(path, data=data, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "1 new, 0 changed, 0 unchanged, 0 rows in error." in dry and dry.count(f'action="{path}"') == 2
    resp = admin_client.post(path, data=data | {"apply": "1"})
    assert resp.status_code == 302 and resp.headers["Location"] == path  # back to the same community's page
    unit = db.session.scalar(db.select(Unit).join(Building).where(Building.site_id == second.id))
    assert db.session.scalar(db.select(Residency).where(Residency.unit_id == unit.id)) is not None


def test_admin_adds_a_device_to_the_community_of_the_list(admin_client, second):
    html = admin_client.get(f"/devices/?site_id={second.id}").get_data(as_text=True)
    assert f'href="/devices/new?site_id={second.id}"' in html
    assert admin_client.get(f"/devices/new?site_id={second.id}").status_code == 200
