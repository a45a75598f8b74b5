"""Report periods: whole local days in the site's time zone, turned into UTC bounds."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from portal.core.errors import Refused
from portal.core.timeutil import UTC, zone

MAX_DAYS = 366 * 2


@dataclass(frozen=True)
class Period:
    """Local dates first..last (both included) in a zone."""

    first: date
    last: date
    tz_name: str

    @property
    def days(self):
        return (self.last - self.first).days + 1

    @property
    def zone(self):
        return zone(self.tz_name)

    @property
    def start(self):
        """UTC instant of local midnight at the start of the first day."""
        return datetime.combine(self.first, time(0), tzinfo=zone(self.tz_name)).astimezone(UTC)

    @property
    def end(self):
        """UTC instant of local midnight after the last day (excluded)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=zone(self.tz_name)).astimezone(UTC)

    def previous(self):
        """The period of the same length just before this one."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.tz_name)

    def year_earlier(self):
        """The same dates a year before (29 February becomes the 28th)."""

        def back(d):
            return d.replace(year=d.year - 1) if not (d.month == 2 and d.day == 29) else d.replace(year=d.year - 1, day=28)

        return Period(back(self.first), back(self.last), self.tz_name)

    def dates(self):
        """Every local date of the period."""
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def months(self):
        """Every local month (YYYY-MM) the period touches."""
        out, d = [], self.first.replace(day=1)
        while d <= self.last:
            out.append(d.strftime("%Y-%m"))
            d = (d + timedelta(days=32)).replace(day=1)
        return out

    def as_json(self):
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "days": self.days,
            "timezone": self.tz_name,
            "start_utc": self.start.isoformat(),
            "end_utc": self.end.isoformat(),
        }


def _date(text, name):
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Refused(
            "invalid", "Some fields are invalid.", fields={name: ("invalid_date", "Give a date as YYYY-MM-DD.")}
        ) from None


def parse(from_text, to_text, tz_name, today=None):
    """A period from query strings; defaults to the last 30 days up to today."""
    today = today or datetime.now(zone(tz_name)).date()
    last = _date(to_text, "to") if to_text else today
    first = _date(from_text, "from") if from_text else last - timedelta(days=29)
    if last < first:
        raise Refused(
            "invalid", "Some fields are invalid.", fields={"to": ("period_order", "The end date is before the start date.")}
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise Refused(
            "invalid", "Some fields are invalid.", fields={"from": ("period_too_long", "A report covers at most two years.")}
        )
    return Period(first, last, tz_name)


def quarter(year, q, tz_name):
    """Calendar quarter q (1-4) of a year."""
    if not (isinstance(year, int) and 2000 <= year <= 2100 and isinstance(q, int) and 1 <= q <= 4):
        raise Refused(
            "invalid",
            "Some fields are invalid.",
            fields={"q": ("invalid_quarter", "Give a year and a quarter from 1 to 4.")},
        )
    first = date(year, 3 * q - 2, 1)
    nxt = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return Period(first, nxt - timedelta(days=1), tz_name)


def current_quarter(tz_name, now=None):
    """(year, quarter) of today in the site's time zone."""
    today = (now or datetime.now(UTC)).astimezone(zone(tz_name)).date()
    return today.year, (today.month - 1) // 3 + 1
