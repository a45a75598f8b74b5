"""Importing the residents' roll: dry run, errors by row and field in both languages, skip-errors, idempotence."""

import io
import json

import pytest
from conftest import each_database

from portal.accounts.models import Residency, User
from portal.audit.models import AuditEntry
from portal.extensions import db
from tests.support import csrf

HEADER = "building,unit,name,phone,relation,move_in\n"
GOOD = (
    HEADER
    + "A,1201,陈静,13912340001,owner,2026-01-02\nA,1201,陈小静,13912340002,family,2026-01-02\nB,0502,Li Na,139 1234 0003,tenant,2026-03-01\n"
)
BAD = GOOD + (
    "A,1201,王五,12345,owner,2026-01-02\n"  # row 5: bad phone
    "A,9999,赵六,13912340005,owner,2026-01-02\n"  # row 6: unknown unit
    "A,1201,钱七,13912340006,cousin,2026-01-02\n"  # row 7: unknown relation
    "A,1201,孙八,13912340007,owner,2026-13-40\n"  # row 8: bad date
    "A,1201,,13912340008,owner,2026-01-02\n"  # row 9: empty name
    "A,1201,陈静,13912340001,owner,2026-01-02\n"  # row 10: duplicate of row 2
    "Z,0101,周九,13912340009,owner,2026-01-02\n"  # row 11: unknown building
)
EXPECTED = {
    (5, "phone"),
    (6, "unit"),
    (7, "relation"),
    (8, "move_in"),
    (9, "name"),
    (10, "phone"),
    (11, "building"),
}


def _post(client, world, body, user=None, **args):
    query = "&".join(f"{k}=1" for k in args)
    headers = world.token(user or world.manager) | {"Content-Type": "text/csv"}
    return client.post(f"/api/v1/sites/{world.site.slug}/residents/import?{query}", data=body.encode("utf-8"), headers=headers)


def _people():
    return db.session.scalar(db.select(db.func.count()).select_from(User).where(User.login.like("sunny-%")))


@each_database
def test_dry_run_then_real_then_again_changes_nothing(client, world):
    dry = _post(client, world, GOOD, dry_run=1)
    assert dry.status_code == 200, dry.get_json()
    body = dry.get_json()
    assert (body["created"], body["updated"], body["unchanged"], body["errors"]) == (3, 0, 0, [])
    assert [r["row"] for r in body["rows"]] == [2, 3, 4] and {r["action"] for r in body["rows"]} == {"create"}
    assert _people() == 0
    real = _post(client, world, GOOD).get_json()
    assert (real["created"], real["applied"]) == (3, True)
    assert _people() == 3
    chen = db.session.scalar(db.select(User).where(User.display_name == "陈静"))
    assert chen.phone == "+8613912340001" and chen.password_hash.startswith("!") and chen.role == "resident"
    assert [r.unit_id for r in chen.residencies] == [world.unit_a.id]
    again = _post(client, world, GOOD).get_json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert _people() == 3
    assert (
        db.session.scalar(db.select(db.func.count()).select_from(AuditEntry).where(AuditEntry.action == "resident.import")) == 2
    )


def test_a_changed_row_is_an_update(client, world):
    _post(client, world, GOOD)
    changed = GOOD.replace("陈小静,13912340002,family", "陈小静,13912340002,tenant")
    body = _post(client, world, changed, dry_run=1).get_json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 2)
    assert body["rows"][1]["changes"] == ["relation"]
    _post(client, world, changed)
    assert db.session.scalar(db.select(Residency.relation).join(User).where(User.display_name == "陈小静")) == "tenant"


def test_errors_have_row_field_and_both_languages_and_nothing_is_applied(client, world):
    body = _post(client, world, BAD).get_json()
    assert {(e["row"], e["field"]) for e in body["errors"]} == EXPECTED
    for e in body["errors"]:
        assert e["message"]["en"] and e["message"]["zh"] and e["message"]["en"] != e["message"]["zh"], e
    assert body["applied"] is False and _people() == 0
    dup = next(e for e in body["errors"] if e["row"] == 10)
    assert "2" in dup["message"]["en"] and "2" in dup["message"]["zh"]


@each_database
def test_skip_errors_applies_the_good_rows(client, world):
    body = _post(client, world, BAD, skip_errors=1).get_json()
    assert body["applied"] is True and body["created"] == 3 and body["rows_in_error"] == 7
    assert _people() == 3


def test_bom_and_multipart_and_create_places(client, world):
    data = ("\ufeff" + GOOD.replace("B,0502", "C,0301")).encode("utf-8")
    headers = world.token(world.manager)
    url = f"/api/v1/sites/{world.site.slug}/residents/import"
    refused = client.post(url, data={"file": (io.BytesIO(data), "roll.csv")}, headers=headers).get_json()
    assert [(e["row"], e["field"]) for e in refused["errors"]] == [(4, "building")]
    made = client.post(url + "?create_places=1", data={"file": (io.BytesIO(data), "roll.csv")}, headers=headers).get_json()
    assert made["created"] == 3 and made["applied"]
    from portal.sites.models import Building

    c = db.session.scalar(db.select(Building).where(Building.site_id == world.site.id, Building.code == "C"))
    assert [u.number for u in c.units] == ["0301"] and c.units[0].floor == 3


def test_bad_header_encoding_and_size(client, world):
    assert _post(client, world, "a,b\n1,2\n").status_code == 400
    headers = world.token(world.manager) | {"Content-Type": "text/csv"}
    url = f"/api/v1/sites/{world.site.slug}/residents/import"
    assert client.post(url, data=HEADER.encode() + b"\xff\xfe,1\n", headers=headers).status_code == 400
    big = client.post(url, data=b"x" * (3 * 1024 * 1024), headers=headers)
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"


def test_api_roles_and_other_site(client, world):
    from portal.accounts.operations import create_user

    other = create_user("mgr-other", world.PASSWORD, "manager", "x", site=world.other_site)
    db.session.commit()
    assert _post(client, world, GOOD, user=world.r1).status_code == 403
    assert _post(client, world, GOOD, user=world.guard).status_code == 403
    assert _post(client, world, GOOD, user=other).status_code == 404
    assert _people() == 0


def test_cli(app, world, tmp_path):
    path = tmp_path / "roll.csv"
    path.write_bytes(("\ufeff" + GOOD).encode("utf-8"))
    run = app.test_cli_runner().invoke
    dry = run(args=["residents", "import", "--site", "sunny", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output.strip().splitlines()[-1])["created"] == 3 and _people() == 0
    real = run(args=["residents", "import", "--site", "sunny", str(path)])
    assert json.loads(real.output.strip().splitlines()[-1])["created"] == 3
    again = run(args=["residents", "import", "--site", "sunny", str(path)])
    assert json.loads(again.output.strip().splitlines()[-1])["unchanged"] == 3
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    refused = run(args=["residents", "import", "--site", "sunny", str(bad)])
    assert refused.exit_code == 1 and json.loads(refused.output.strip().splitlines()[-1])["applied"] is False


@pytest.mark.parametrize("lang,word", [("zh", "导入住户名册"), ("en", "Import the residents' roll")])
def test_page_dry_run_then_apply(world, manager_client, lang, word):
    page = manager_client.get(f"/team/residents/import?lang={lang}")
    assert page.status_code == 200 and word in page.get_data(as_text=True)
    token = csrf(manager_client, f"/team/residents/import?lang={lang}")
    shown = manager_client.post(
        f"/team/residents/import?lang={lang}",
        data={"csrf_token": token, "file": (io.BytesIO(BAD.encode()), "roll.csv")},
        content_type="multipart/form-data",
    )
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and 'data-row="6"' in html
    assert html.index('data-row="6"') < html.index('data-line="2"')  # the rows in error come before the whole plan
    assert ("不是有效的手机号码" in html or "号码" in html) if lang == "zh" else "Not a valid phone number." in html
    assert _people() == 0
    applied = manager_client.post(
        f"/team/residents/import?lang={lang}",
        data={"csrf_token": token, "file": (io.BytesIO(BAD.encode()), "roll.csv"), "apply": "1", "skip_errors": "1"},
        content_type="multipart/form-data",
    )
    assert applied.status_code in (200, 302) and _people() == 3


def test_page_needs_csrf_and_a_manager(world, manager_client, guard_client):
    assert guard_client.get("/team/residents/import").status_code == 403
    no_token = manager_client.post(
        "/team/residents/import", data={"file": (io.BytesIO(GOOD.encode()), "roll.csv")}, content_type="multipart/form-data"
    )
    assert no_token.status_code == 403
