"""Pure rules of a gate decision: schedule, gate, pass state, keypad digits and TOTP steps."""

import hmac
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

import pyotp

from portal.core.timeutil import as_utc, zone
from portal.passes import codes, qrtext


@dataclass
class Outcome:
    """What the gate is told, plus what the event records."""

    decision: str
    reason: str
    pass_: object = None  # the Pass, when one was identified
    floors: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    plate: str | None = None
    count_use: bool = False  # a grant that took nothing: the pass's use count goes up with the event
    # Copied while loaded: after the commit the ORM objects are expired and reading them would query again.
    pass_id: int | None = field(init=False, default=None)

    def __post_init__(self):
        self.pass_id = self.pass_.id if self.pass_ is not None else None

    @property
    def granted(self):
        return self.decision == "grant"


def grant(p, count_use=False):
    """Open, and enable the pass's floors."""
    return Outcome("grant", "ok", p, list(p.floors or []), count_use=count_use)


def deny(reason, p=None, **details):
    """Stay shut, with the reason code."""
    return Outcome("deny", reason, p, [], details)


def _minutes(hhmm):
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_schedule(schedule, tz_name, now):
    """True when now falls in the pass's recurring window, read in the pass's own time zone.

    days are ISO weekdays (1 = Monday); when end < start the window crosses midnight
    and belongs to the day it started on, so Friday 22:00-06:00 admits at Saturday 05:00.
    """
    if not schedule:
        return True
    days = set(schedule.get("days") or range(1, 8))
    start, end = _minutes(schedule["start"]), _minutes(schedule["end"])
    local = as_utc(now).astimezone(zone(tz_name))
    minute = local.hour * 60 + local.minute
    today = local.isoweekday()
    if start < end:
        return today in days and start <= minute < end
    if minute >= start:
        return today in days
    yesterday = (local - timedelta(days=1)).isoweekday()
    return minute < end and yesterday in days


def gate_allowed(device_gates, pass_gates):
    """A device serving no listed gate covers the whole site; a pass without gates is good at any."""
    if not device_gates or not pass_gates:
        return True
    return bool(set(device_gates) & set(pass_gates))


def precheck(p, device, now, direction, watch_hit):
    """The first reason this pass must not open now, or None. Reads only; the writes decide races.

    An exit ("out") is never refused for schedule or use count: nobody should be trapped inside.
    """
    if p.site_id != device.site_id:
        return "wrong_site"
    if p.status == "awaiting_approval":
        return "not_approved"
    if p.status != "active":
        return "revoked"
    if watch_hit is not None:
        return "watchlisted"
    if now >= as_utc(p.valid_until):
        return "expired"
    if now < as_utc(p.valid_from):
        return "not_yet_valid"
    if not gate_allowed(device.gate_ids, p.gate_ids):
        return "wrong_gate"
    if direction == "out":
        return None
    if not in_schedule(p.schedule, p.timezone, now):
        return "outside_schedule"
    if p.max_entries is not None and p.uses >= p.max_entries:
        return "used_up"
    if direction == "in" and p.last_direction == "in":
        return "anti_passback"
    return None


def keypad_digits(text):
    """The typed entry as ASCII digits (full-width digits and separators allowed), or None."""
    if len(text) > 64:
        return None
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch not in " -#*")
    if len(digits) != codes.CODE_LEN or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def matching_step(secret, otp, now_ts):
    """The time step (current or previous only) whose TOTP equals otp, or None.

    The previous step is accepted because a visitor may read the code just before it
    changes; later steps are never accepted (only server time counts).
    """
    gen = pyotp.TOTP(secret, digits=codes.OTP_DIGITS, interval=qrtext.STEP_SECONDS)
    now_step = qrtext.current_step(now_ts)
    found = None
    for step in (now_step, now_step - 1):
        # Compare both steps every time so timing does not tell which one matched.
        if hmac.compare_digest(gen.at(step * qrtext.STEP_SECONDS), otp) and found is None:
            found = step
    return found
