"""KPI arithmetic against hand-computed fixtures: empty periods, previous-period aims, +08:00 month boundaries."""

import secrets
from datetime import timedelta

import pytest

from portal.core.crypto import token_hash
from portal.core.timeutil import parse_iso
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.feedback.models import Complaint, Survey
from portal.reports import periods
from portal.reports.queries import kpi

H = timedelta(hours=1)


def _complaint(world, created, first=None, resolved=None, kind="complaint", site=None):
    at = parse_iso(created)
    c = Complaint(
        site_id=(site or world.site).id,
        author_id=world.r1.id,
        kind=kind,
        category="noise",
        description="x",
        created_at=at,
        due_response_at=at + 24 * H,
        due_resolution_at=at + 72 * H,
        first_response_at=at + first * H if first is not None else None,
        last_response_at=at + first * H if first is not None else None,
        resolved_at=at + resolved * H if resolved is not None else None,
        status="resolved" if resolved is not None else "in_progress",
    )
    db.session.add(c)


def _survey(world, answered, score):
    at = parse_iso(answered)
    token = secrets.token_urlsafe(8)
    db.session.add(
        Survey(
            site_id=world.site.id,
            user_id=world.r1.id,
            kind="visit",
            token_hash=token_hash(token),
            token=token,
            created_at=at - H,
            expires_at=at + 24 * H,
            answered_at=at,
            score=score,
        )
    )


def _event(world, at, decision="grant", reason="ok", method="qr", direction="in", approved_by=None, site=None):
    db.session.add(
        AccessEvent(
            site_id=(site or world.site).id,
            at=parse_iso(at),
            decision=decision,
            reason=reason,
            method=method,
            direction=direction,
            approved_by=approved_by,
            source="api",
        )
    )


@pytest.fixture
def figures(world):
    """April 2026 in Shanghai (+08:00) and the 30 days before it, with figures worked out by hand below."""
    # April (local): 2026-03-31T16:00Z <= t < 2026-04-30T16:00Z
    _complaint(world, "2026-03-31T16:30Z", first=2, resolved=10)  # Apr 1 00:30 local: April
    _complaint(world, "2026-04-15T02:00Z", first=4, resolved=30)
    _complaint(world, "2026-04-30T15:59Z", first=6)  # Apr 30 23:59 local, not resolved
    _complaint(world, "2026-04-10T00:00Z", kind="suggestion")  # unanswered
    _complaint(world, "2026-04-30T16:00Z", first=1, resolved=1)  # May 1 00:00 local: not April
    _complaint(world, "2026-04-12T00:00Z", first=1, site=world.other_site)  # another community
    # Previous 30 days: Mar 2 - Mar 31 local = 2026-03-01T16:00Z <= t < 2026-03-31T16:00Z
    _complaint(world, "2026-03-05T00:00Z", first=5, resolved=20)
    _complaint(world, "2026-03-10T00:00Z", first=5, resolved=20)
    _complaint(world, "2026-03-20T00:00Z", first=5, resolved=40)
    _complaint(world, "2026-03-31T15:59Z", first=10, resolved=60)  # Mar 31 23:59 local
    _complaint(world, "2026-03-01T15:59Z", first=99, resolved=99)  # Mar 1 23:59 local: before the previous period
    for at, score in (
        ("2026-03-31T16:30Z", 5),
        ("2026-04-03T00:00Z", 4),
        ("2026-04-09T00:00Z", 3),
        ("2026-04-20T00:00Z", 5),
        ("2026-04-29T00:00Z", 1),
        ("2026-03-15T00:00Z", 5),
    ):
        _survey(world, at, score)
    _event(world, "2026-03-31T16:30Z")  # Apr 1 00:30 local
    _event(world, "2026-04-01T01:00Z", direction=None)  # 09:00
    _event(world, "2026-04-01T01:30Z")  # 09:30
    _event(world, "2026-04-02T10:00Z", method="walk_in", reason="walk_in", approved_by="guard")  # 18:00
    _event(world, "2026-04-02T10:10Z", method="walk_in", reason="walk_in", approved_by="host")  # 18:10
    _event(world, "2026-04-03T02:00Z", method="remote", reason="remote_open", approved_by="guard")  # 10:00
    _event(world, "2026-04-03T03:00Z", direction="out")  # an exit is not an entry
    _event(world, "2026-04-05T01:00Z", decision="deny", reason="expired")
    _event(world, "2026-04-05T02:00Z", decision="deny", reason="expired")
    _event(world, "2026-04-06T02:00Z", decision="deny", reason="watchlisted", direction=None)
    _event(world, "2026-03-31T15:00Z", decision="deny", reason="expired")  # Mar 31 23:00 local
    _event(world, "2026-04-02T10:00Z", site=world.other_site)
    db.session.commit()
    return world


def _april(site):
    return periods.parse("2026-04-01", "2026-04-30", site.timezone)


def test_period_bounds_are_local_midnights():
    p = periods.parse("2026-04-01", "2026-04-30", "Asia/Shanghai")
    assert p.start.isoformat() == "2026-03-31T16:00:00+00:00" and p.end.isoformat() == "2026-04-30T16:00:00+00:00"
    prev = p.previous()
    assert (prev.first.isoformat(), prev.last.isoformat(), prev.days) == ("2026-03-02", "2026-03-31", 30)
    q4 = periods.quarter(2026, 4, "Asia/Shanghai")
    assert (q4.first.isoformat(), q4.last.isoformat(), q4.days) == ("2026-10-01", "2026-12-31", 92)


def test_satisfaction(figures):
    sat = kpi(figures.site, _april(figures.site))["satisfaction"]
    # April answers: 5 (Mar 31 16:30Z = Apr 1 local), 4, 3, 5, 1 -> 3 of 5 satisfied
    assert (sat["answered"], sat["satisfied"], sat["rate"]) == (5, 3, 0.6)
    assert sat["target"] == 0.95 and sat["met"] is False
    assert sat["previous_rate"] == 1.0 and sat["scores"] == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 2}
    figures.site.settings = {"satisfaction_target": 0.6}
    db.session.commit()
    again = kpi(figures.site, _april(figures.site))["satisfaction"]
    assert again["target"] == 0.6 and again["met"] is True


def test_complaints_and_response_times(figures):
    k = kpi(figures.site, _april(figures.site))
    com, resp = k["complaints"], k["response"]
    assert (com["complaints"], com["suggestions"], com["units"]) == (3, 1, 2)
    assert com["per_100_units"] == 150.0  # 3 / 2 units x 100
    assert com["by_month"] == [{"month": "2026-04", "count": 3, "per_100_units": 150.0}]
    assert com["previous"] == 4 and com["change"] == pytest.approx(-0.25) and com["aim_met"] is True  # aim -15%
    assert resp["median_first_response_hours"] == 4  # median of 2, 4, 6 (the suggestion is unanswered)
    assert resp["unanswered"] == 1 and resp["answered"] == 3
    assert resp["previous_median_first_response_hours"] == 5  # median of 5, 5, 5, 10
    assert resp["change"] == pytest.approx(-0.20) and resp["aim_met"] is True  # exactly the seed's 20 %
    assert resp["median_resolution_hours"] == 20  # median of 10, 30
    assert resp["previous_median_resolution_hours"] == 30  # median of 20, 20, 40, 60
    assert resp["resolution_change"] == pytest.approx(-1 / 3)


def test_month_buckets_follow_shanghai_time(figures):
    p = periods.parse("2026-03-01", "2026-04-30", "Asia/Shanghai")
    months = kpi(figures.site, p)["complaints"]["by_month"]
    # 2026-03-31T16:30Z is April 1st in Shanghai; 2026-03-01T15:59Z is still March 1st.
    assert months == [
        {"month": "2026-03", "count": 5, "per_100_units": 250.0},
        {"month": "2026-04", "count": 3, "per_100_units": 150.0},
    ]
    q1 = kpi(figures.site, periods.quarter(2026, 1, "Asia/Shanghai"))["complaints"]["complaints"]
    q2 = kpi(figures.site, periods.quarter(2026, 2, "Asia/Shanghai"))["complaints"]["complaints"]
    assert (q1, q2) == (5, 4)  # Q2 also holds the one filed at May 1st 00:00 local


def test_entries(figures):
    ent = kpi(figures.site, _april(figures.site))["entries"]
    assert (ent["granted"], ent["walk_ins"], ent["guard_approved"], ent["guard_approved_walk_ins"]) == (6, 2, 2, 1)
    assert ent["guard_share_of_walk_ins"] == 0.5 and ent["guard_share_of_entries"] == pytest.approx(2 / 6)
    assert ent["denied"] == 3 and ent["denied_by_reason"] == {"expired": 2, "watchlisted": 1}
    per_day = {d["date"]: d["count"] for d in ent["per_day"] if d["count"]}
    assert per_day == {"2026-04-01": 3, "2026-04-02": 2, "2026-04-03": 1}
    assert len(ent["per_day"]) == 30
    assert {h: n for h, n in enumerate(ent["by_hour"]) if n} == {0: 1, 9: 2, 10: 1, 18: 2}
    assert ent["peak_hours"] == [9, 18, 0]


def test_empty_period_has_no_division_by_zero(figures):
    k = kpi(figures.site, periods.parse("2025-01-01", "2025-01-31", "Asia/Shanghai"))
    assert k["satisfaction"]["rate"] is None and k["satisfaction"]["met"] is None
    assert k["complaints"]["complaints"] == 0 and k["complaints"]["per_100_units"] == 0.0
    assert k["complaints"]["change"] is None and k["complaints"]["aim_met"] is None
    assert k["response"]["median_first_response_hours"] is None and k["response"]["change"] is None
    assert k["response"]["aim_met"] is None and k["response"]["median_resolution_hours"] is None
    ent = k["entries"]
    assert ent["granted"] == 0 and ent["guard_share_of_entries"] is None and ent["guard_share_of_walk_ins"] is None
    assert ent["peak_hours"] == [] and ent["denied_by_reason"] == {}


def test_site_without_units(figures):
    k = kpi(figures.other_site, _april(figures.other_site))
    assert k["complaints"]["complaints"] == 1 and k["complaints"]["units"] == 0
    assert k["complaints"]["per_100_units"] is None
    assert k["complaints"]["change"] is None  # nothing before to compare with


def test_kpi_api(client, figures):
    h = figures.token(figures.manager)
    resp = client.get("/api/v1/reports/kpi?from=2026-04-01&to=2026-04-30", headers=h)
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["period"]["start_utc"] == "2026-03-31T16:00:00+00:00"
    assert data["satisfaction"]["rate"] == 0.6 and data["complaints"]["complaints"] == 3
    empty = client.get("/api/v1/reports/kpi?from=2025-01-01&to=2025-01-31", headers=h).get_json()
    assert empty["satisfaction"]["rate"] is None and empty["response"]["change"] is None
    for bad in ("from=2026-04-31&to=2026-05-01", "from=2026-05-01&to=2026-04-01", "from=x", "from=2020-01-01&to=2026-01-01"):
        assert client.get(f"/api/v1/reports/kpi?{bad}", headers=h).status_code == 400
    assert client.get("/api/v1/reports/kpi", headers=figures.token(figures.guard)).status_code == 403
    assert client.get("/api/v1/reports/kpi", headers=figures.token(figures.r1)).status_code == 403
    assert client.get("/api/v1/reports/kpi?site=other", headers=h).status_code == 404
