"""Helpers for the permit tests: an application body and applying through the API."""

from datetime import timedelta

from portal.core.timeutil import local, utcnow

ID_OK = "11010519491231002X"
ID_OK2 = "110105198001010016"


def today(world):
    """The site's local date."""
    return local(utcnow(), world.site.timezone).date()


def application(world, **over):
    """A valid permit application: two workers, one van, all day every day for a week (so tests need no frozen clock)."""
    start = today(world)
    body = {
        "company": "安心装修公司",
        "responsible_name": "刘工",
        "responsible_phone": "13800001111",
        "work_area": "厨房和卫生间",
        "starts_on": start.isoformat(),
        "ends_on": (start + timedelta(days=6)).isoformat(),
        "daily_start": "00:00",
        "daily_end": "23:59",
        "workers": [
            {"name": "王五", "phone": "13900002222", "id_number": ID_OK},
            {"name": "赵六", "id_number": ID_OK2},
        ],
        "plates": ["京A12345"],
    }
    body.update(over)
    return body


def apply(client, world, user, **over):
    """POST /api/v1/permits as user; returns the response."""
    return client.post("/api/v1/permits", json=application(world, **over), headers=world.token(user))
