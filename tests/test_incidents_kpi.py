"""The team's KPIs on a seeded dataset: incident response medians and 90th percentiles against a year earlier,
device availability against 98 %, in the API, the dashboard and the CSV; expected figures worked out by hand."""

from datetime import datetime, timedelta

import pytest

from portal.core.timeutil import UTC, zone
from portal.desk.models import DeskException
from portal.devices.models import Device
from portal.extensions import db
from portal.incidents.models import Incident
from portal.incidents.queries import percentile

SH = zone("Asia/Shanghai")
PERIOD = "from=2026-11-01&to=2026-11-30"


def _at(y, m, d, h=10):
    return datetime(y, m, d, h, 0, tzinfo=SH).astimezone(UTC)


def _incident(world, reported, ack=None, scene=None, done=None, site=None):
    def later(minutes):
        return reported + timedelta(minutes=minutes) if minutes is not None else None

    db.session.add(
        Incident(
            site_id=(site or world.site).id,
            kind="other",
            severity="normal",
            status="resolved" if done is not None else "open",
            location="A栋",
            description="x",
            reported_at=reported,
            acknowledged_at=later(ack),
            on_scene_at=later(scene),
            resolved_at=later(done),
        )
    )


@pytest.fixture
def seeded(world):
    # November 2026: acknowledged after 2, 4, 6, 8 and 30 minutes, one never; on scene after 10 and 20;
    # resolved after 60, 90 and 120.
    for day, ack, scene, done in [(2, 2, 10, 60), (5, 4, 20, 90), (9, 6, None, 120), (12, 8, None, None), (20, 30, None, None)]:
        _incident(world, _at(2026, 11, day), ack, scene, done)
    _incident(world, _at(2026, 11, 25))  # not acknowledged yet
    _incident(world, _at(2026, 12, 1), ack=1)  # after the period
    _incident(world, _at(2026, 11, 3), ack=1, site=world.other_site)  # another community
    # November 2025: acknowledged after 5, 10, 15, 20; on scene after 12; none resolved.
    for day, ack, scene in [(3, 5, 12), (6, 10, None), (9, 15, None), (27, 20, None)]:
        _incident(world, _at(2025, 11, day), ack, scene)
    # Two devices all month; one offline 12 h inside the month, one from 18:00 on 31 October to 06:00 on 1 November.
    made = datetime(2025, 1, 1, tzinfo=UTC)
    devs = [
        Device(site_id=world.site.id, name=f"d{n}", kind="door_controller", driver="simulator", options={}, created_at=made)
        for n in (1, 2)
    ]
    db.session.add_all(devs)
    db.session.flush()
    for dev, opened, closed in [
        (devs[0], _at(2026, 11, 10, 0), _at(2026, 11, 10, 12)),
        (devs[1], _at(2026, 10, 31, 18), _at(2026, 11, 1, 6)),
    ]:
        db.session.add(
            DeskException(
                site_id=world.site.id,
                kind="device_offline",
                group_key=f"device_offline:{dev.id}",
                device_id=dev.id,
                status="closed",
                created_at=opened,
                last_seen_at=opened,
                closed_at=closed,
            )
        )
    db.session.commit()


def test_percentile_is_linear_between_closest_ranks():
    assert percentile([2, 4, 6, 8, 30], 90) == pytest.approx(21.2)  # rank 0.9 × 4 = 3.6: 8 + 0.6 × 22
    assert percentile([7], 90) == 7 and percentile([], 90) is None
    assert percentile([10, 20], 50) == 15


def test_incident_response_against_a_year_earlier(client, world, seeded):
    k = client.get(f"/api/v1/reports/kpi?{PERIOD}", headers=world.token(world.manager)).get_json()
    inc = k["incidents"]
    assert (inc["reported"], inc["unacknowledged"], inc["year_ago_reported"]) == (6, 1, 4)
    assert inc["year_ago_period"]["from"] == "2025-11-01" and inc["aim"] == -0.2
    ack = inc["acknowledge"]
    assert (ack["n"], ack["median_minutes"], ack["p90_minutes"]) == (5, 6, 21.2)
    # A year earlier: median of 5, 10, 15, 20 = 12.5; p90 at rank 2.7 = 15 + 0.7 × 5 = 18.5.
    assert (ack["year_ago"]["median_minutes"], ack["year_ago"]["p90_minutes"]) == (12.5, 18.5)
    assert ack["change"] == -0.52 and ack["aim_met"] is True  # (6 - 12.5) / 12.5
    assert ack["p90_change"] == pytest.approx(0.1459)  # (21.2 - 18.5) / 18.5
    scene = inc["on_scene"]
    assert (scene["median_minutes"], scene["p90_minutes"], scene["year_ago"]["median_minutes"]) == (15, 19, 12)
    assert scene["change"] == 0.25 and scene["aim_met"] is False
    done = inc["resolve"]
    assert (done["median_minutes"], done["p90_minutes"]) == (90, 114)  # rank 1.8: 90 + 0.8 × 30
    assert done["year_ago"]["n"] == 0 and done["change"] is None and done["aim_met"] is None


def test_device_availability_against_the_seeds_target(client, world, seeded):
    dev = client.get(f"/api/v1/reports/kpi?{PERIOD}", headers=world.token(world.manager)).get_json()["devices"]
    # 2 devices × 30 days = 1440 h; offline 12 h + 6 h inside November: 1 - 18 / 1440 = 0.9875.
    assert (dev["devices"], dev["offline_hours"], dev["availability"], dev["target"], dev["met"]) == (2, 18, 0.9875, 0.98, True)
    assert client.get(f"/api/v1/reports/kpi?{PERIOD}", headers=world.token(world.guard)).status_code == 403


def test_alarm_and_drill_kpis_say_unavailable_without_their_features(client, world, seeded, monkeypatch):
    from portal.reports import team

    monkeypatch.setitem(team.HOOKS, "alarm_ack_minutes", None)
    monkeypatch.setitem(team.HOOKS, "drills", None)
    k = client.get(f"/api/v1/reports/kpi?{PERIOD}", headers=world.token(world.manager)).get_json()
    assert k["alarms"] == {"available": False} and k["drills"] == {"available": False}
    monkeypatch.setitem(team.HOOKS, "alarm_ack_minutes", lambda site_id, start, end: [1, 2, 3])
    alarms = client.get(f"/api/v1/reports/kpi?{PERIOD}", headers=world.token(world.manager)).get_json()["alarms"]
    assert alarms == {"available": True, "acknowledged": 3, "median_minutes": 2, "p90_minutes": 2.8}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dashboard_and_csv_show_the_team_figures(world, login_as, seeded, lang):
    manager = login_as(world.manager)
    manager.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    html = manager.get(f"/team/reports/?{PERIOD}").get_data(as_text=True)
    assert 'id="kpi-incident-ack"' in html and 'id="kpi-devices"' in html and "98.8%" in html
    assert ("6.0 分钟" if lang == "zh" else "6.0 min") in html
    assert ("投诉：首次答复时间" if lang == "zh" else "Complaints: time to first answer") in html
    csv = manager.get(f"/team/reports/kpi.csv?{PERIOD}").get_data(as_text=True)
    assert (
        "确认用时中位数（分钟）,6,12.5,-0.52,-0.2" if lang == "zh" else "Median minutes to acknowledgement,6,12.5,-0.52,-0.2"
    ) in csv


def test_alarm_acknowledgement_and_drills_from_their_tables(client, world, seeded):
    from portal.alarms.models import Alarm
    from portal.emergency.models import Emergency

    dev = db.session.scalar(db.select(Device).where(Device.site_id == world.site.id))
    for day, minutes in ((3, 1), (4, 2), (5, 4), (6, None)):
        raised = _at(2026, 11, day)
        acked = raised + timedelta(minutes=minutes) if minutes is not None else None
        db.session.add(
            Alarm(site_id=world.site.id, device_id=dev.id, kind="door_forced", raised_at=raised, acknowledged_at=acked)
        )
    started = _at(2026, 11, 15)
    db.session.add(
        Emergency(
            site_id=world.site.id,
            kind="drill",
            reason="季度消防演练",
            started_at=started,
            roll_complete_at=started + timedelta(minutes=12),
            ended_at=started + timedelta(minutes=20),
        )
    )
    db.session.commit()
    k = client.get(f"/api/v1/reports/kpi?{PERIOD}", headers=world.token(world.manager)).get_json()
    # Acknowledged after 1, 2 and 4 minutes (one not yet): median 2, p90 at rank 1.8 = 2 + 0.8 × 2 = 3.6.
    assert k["alarms"] == {"available": True, "acknowledged": 3, "median_minutes": 2, "p90_minutes": 3.6}
    assert k["drills"]["held"] == 1 and k["drills"]["items"][0]["roll_call_minutes"] == 12
