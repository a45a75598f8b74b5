"""Time helpers: everything is stored in UTC and shown in the site's zone."""

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

UTC = UTC


def utcnow():
    """Current time as an aware UTC datetime."""
    return datetime.now(UTC)


def now_ts():
    """Unix time now, for the pass page's QR step and keypad code; tests replace this one function to hold time still."""
    return time.time()


def as_utc(value):
    """Coerce a datetime to aware UTC; naive values are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_iso(text):
    """Parse ISO 8601 that must carry an offset; raises ValueError otherwise."""
    if not isinstance(text, str) or len(text) > 64:
        raise ValueError("not a string")
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("missing offset")
    return value.astimezone(UTC)


def zone(name):
    """ZoneInfo for a site's zone name, falling back to Asia/Shanghai."""
    try:
        return ZoneInfo(name or "Asia/Shanghai")
    except Exception:
        return ZoneInfo("Asia/Shanghai")


def local(value, tz_name):
    """A UTC datetime shown in a zone."""
    return as_utc(value).astimezone(zone(tz_name)) if value else None


def local_text(value, tz_name, fmt="%Y-%m-%d %H:%M"):
    """A UTC datetime as text in a zone; None stays None."""
    return local(value, tz_name).strftime(fmt) if value else None


def site_time(value, tz_name, fmt="%Y-%m-%d %H:%M"):
    """The pages' filter: a stored UTC time as text in the site's zone, nothing for no time."""
    return local_text(value, tz_name, fmt) or ""
