"""Report pages: SVG charts without scripts, n/a for empty periods, CSV safe from formula injection, quarterly print view."""

import csv
import io
from datetime import timedelta

from feedback_support import file_json, login, other_site_staff

from portal.core.timeutil import utcnow
from portal.reports.exports import safe_cell


def _around_today():
    today = utcnow().date()
    return f"from={today - timedelta(days=300)}&to={today + timedelta(days=30)}"


def test_dashboard_renders_charts_without_javascript(client, world):
    file_json(client, world.token(world.r1))
    login(client, world, world.manager)
    resp = client.get("/team/reports/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert html.count("<svg") >= 5 and "<script" not in html and "style=" not in html
    assert 'id="kpi-satisfaction"' in html


def test_empty_period_shows_na(client, world):
    login(client, world, world.manager)
    html = client.get("/team/reports/?from=2020-01-01&to=2020-01-31").get_data(as_text=True)
    satisfaction = html.split('id="kpi-satisfaction"')[1].split("</section>")[0]
    assert "n/a" in satisfaction
    bad = client.get("/team/reports/?from=2020-02-01&to=2020-01-01&lang=en")
    assert bad.status_code == 400 and "The end date is before the start date." in bad.get_data(as_text=True)


def test_only_managers_see_reports(client, world):
    login(client, world, world.guard)
    assert client.get("/team/reports/").status_code == 403
    assert client.get("/team/reports/kpi.csv").status_code == 403


def test_other_sites_manager_sees_own_site(client, world):
    file_json(client, world.token(world.r1), description="UNIQUE-SUNNY-TEXT")
    login(client, world, other_site_staff(world))
    html = client.get(f"/team/reports/?{_around_today()}").get_data(as_text=True)
    assert "别的小区" in html and "阳光花园" not in html
    assert "UNIQUE-SUNNY-TEXT" not in client.get(f"/team/reports/complaints.csv?{_around_today()}").get_data(as_text=True)
    assert client.get("/team/reports/?site=sunny").status_code == 404


def test_csv_export_neutralises_formulas(client, world):
    rh = world.token(world.r1)
    evil = [
        '=HYPERLINK("http://evil.example","click")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        " =1+1",
        "＝1+1",
    ]
    for text in evil:
        file_json(client, rh, description=text, location=text[:100])
    login(client, world, world.manager)
    resp = client.get(f"/team/reports/complaints.csv?{_around_today()}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == len(evil)
    for row in rows:
        for field in ("Description", "Location"):  # headings a manager reads, in the page's language
            assert row[field].startswith("'"), row[field]
    assert "张伟" not in resp.get_data(as_text=True)  # no resident identities in the export
    kpi = client.get(f"/team/reports/kpi.csv?{_around_today()}").get_data(as_text=True)
    assert "Complaints,Complaints filed,7" in kpi


def test_safe_cell():
    assert safe_cell("=1+1") == "'=1+1" and safe_cell("plain") == "plain" and safe_cell(None) == ""
    assert safe_cell(-0.25) == "-0.25" and safe_cell(3) == "3" and safe_cell(True) == "Yes"  # a word a manager reads


def test_quarterly_report(client, world):
    login(client, world, world.manager)
    resp = client.get("/team/reports/quarterly?year=2026&q=4")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "2026 Q4" in html and "2026-10-01" in html and "2026-12-31" in html
    # Compared with the same quarter a year earlier (#18), not the quarter before.
    assert "2025 Q4" in html and "2025-10-01" in html and "2026 Q3" not in html
    assert "<svg" in html and "<script" not in html
    bad = client.get("/team/reports/quarterly?year=2026&q=5", headers={"Accept-Language": "zh-CN"})
    assert bad.status_code == 400 and "请给出年份和季度（1 到 4）。" in bad.get_data(as_text=True)  # says why
    assert client.get("/team/reports/quarterly?year=x&q=1").status_code == 400


def test_denials_chart_names_reasons_in_the_page_language(client, world):
    """The chart labels a denial by its meaning in the page's language, never by the stored reason code."""
    from desk_support import event

    event(world, decision="deny", reason="bad_signature")
    login(client, world, world.manager)
    zh = client.get("/team/reports/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "伪造或损坏的码" in zh and "bad_signature" not in zh
    en = client.get("/team/reports/?lang=en").get_data(as_text=True)
    assert "Forged or damaged code" in en and "bad_signature" not in en
