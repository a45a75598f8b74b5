"""Recurring schedules read in the pass's zone (+08:00) against UTC storage, including windows across midnight."""

from datetime import timedelta

import pytest
from gate_support import at, freeze, reason

from portal.passes import codes

# 2030-01-04 is a Friday. Storage and the server clock are UTC; the pass lives in Asia/Shanghai (+08:00).
WINDOW = dict(valid_from=at("2030-01-01T00:00:00+08:00"), valid_until=at("2030-01-20T00:00:00+08:00"), max_entries=None)


def _scan(client, monkeypatch, world, p, header, when):
    now = freeze(monkeypatch, at(when))
    return reason(client, header, qr=codes.qr_text(p, now.timestamp()))


@pytest.mark.parametrize(
    "when, expected",
    [
        ("2030-01-04T22:00:00+08:00", "ok"),  # Friday 22:00 local, 14:00 UTC: the window opens
        ("2030-01-04T15:30:00+00:00", "ok"),  # Friday 23:30 local given in UTC
        ("2030-01-04T21:30:00+00:00", "ok"),  # Saturday 05:30 local but still Friday in UTC: Friday's window
        ("2030-01-05T05:59:00+08:00", "ok"),  # last minute of Friday's night
        ("2030-01-05T06:00:00+08:00", "outside_schedule"),  # window closed
        ("2030-01-04T21:59:00+08:00", "outside_schedule"),  # Friday before it opens
        ("2030-01-05T22:30:00+08:00", "outside_schedule"),  # Saturday night: Saturday is not a listed day
        ("2030-01-04T05:00:00+08:00", "outside_schedule"),  # Friday early morning belongs to Thursday's night
        ("2030-01-12T02:00:00+08:00", "ok"),  # the next Friday night, Saturday 02:00 local
    ],
)
def test_night_shift_crossing_midnight(client, world, monkeypatch, when, expected):
    p = world.make_pass(timezone="Asia/Shanghai", schedule={"days": [5], "start": "22:00", "end": "06:00"}, **WINDOW)
    _, header = world.device()
    want = ("grant", "ok") if expected == "ok" else ("deny", expected)
    assert _scan(client, monkeypatch, world, p, header, when) == want


@pytest.mark.parametrize(
    "when, expected",
    [
        ("2030-01-07T00:59:00+00:00", "outside_schedule"),  # Monday 08:59 in Shanghai
        ("2030-01-07T01:00:00+00:00", "ok"),  # Monday 09:00 in Shanghai, 01:00 UTC
        ("2030-01-07T09:59:00+00:00", "ok"),  # 17:59 local
        ("2030-01-07T10:00:00+00:00", "outside_schedule"),  # 18:00 local
        ("2030-01-06T03:00:00+00:00", "outside_schedule"),  # Sunday 11:00 local
        ("2030-01-06T20:00:00+00:00", "outside_schedule"),  # Sunday in UTC, Monday 04:00 local: before hours
    ],
)
def test_office_hours_in_plus_eight(client, world, monkeypatch, when, expected):
    p = world.make_pass(timezone="Asia/Shanghai", schedule={"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}, **WINDOW)
    _, header = world.device()
    want = ("grant", "ok") if expected == "ok" else ("deny", expected)
    assert _scan(client, monkeypatch, world, p, header, when) == want


def test_same_instant_differs_by_pass_zone(client, world, monkeypatch):
    schedule = {"days": [1, 2, 3, 4, 5, 6, 7], "start": "09:00", "end": "18:00"}
    shanghai = world.make_pass(timezone="Asia/Shanghai", schedule=schedule, **WINDOW)
    utc = world.make_pass(timezone="UTC", schedule=schedule, **WINDOW)
    _, header = world.device()
    when = "2030-01-07T12:00:00+08:00"  # 04:00 UTC: office hours in Shanghai, night in UTC
    assert _scan(client, monkeypatch, world, shanghai, header, when) == ("grant", "ok")
    assert _scan(client, monkeypatch, world, utc, header, when) == ("deny", "outside_schedule")


def test_window_edges_are_exact(client, world, monkeypatch):
    p = world.make_pass(**WINDOW)
    _, header = world.device()
    start = WINDOW["valid_from"]
    assert _scan(client, monkeypatch, world, p, header, (start - timedelta(seconds=1)).isoformat()) == ("deny", "not_yet_valid")
    assert _scan(client, monkeypatch, world, p, header, start.isoformat()) == ("grant", "ok")
