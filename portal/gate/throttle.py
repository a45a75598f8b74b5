"""Keypad throttling per pass and per keypad, in a store every worker shares.

Only failed entries naming a live pass count (docs/gate.md, "Keypad codes and the arithmetic", says why).
"""

from flask import current_app
from limits import parse_many, storage, strategies

DEFAULTS = {
    # Guesses (wrong codes for a live pass number) per keypad: past these the keypad refuses codes
    # until the window passes or a guard clears it. ≤ 100 guesses a day at one keypad.
    "GATE_CODE_DEVICE_LIMIT": "10/minute;30/hour;100/day",
    # One pass number: a visitor may fumble, a shoulder-surfer may not try all codes.
    "GATE_CODE_PASS_LIMIT": "5/10minutes;20/day",
    # Any failures per keypad, garbage included: past this the desk is alerted (once an hour per keypad).
    "GATE_CODE_BURST": "10/minute",
}
ALERT = parse_many("1/hour")[0]


class Throttle:
    """Failure counters for keypads and passes."""

    def __init__(self, uri, device_limit, pass_limit, burst_limit=DEFAULTS["GATE_CODE_BURST"]):
        self.store = storage.storage_from_string(uri)
        self.limiter = strategies.MovingWindowRateLimiter(self.store)
        self.device_limits = parse_many(device_limit)
        self.pass_limits = parse_many(pass_limit)
        self.burst_limit = parse_many(burst_limit)[0]

    def _blocked(self, limits, *key):
        return any(not self.limiter.test(lim, *key) for lim in limits)

    def device_blocked(self, device_id):
        """True when a keypad has had too many guesses at live pass numbers recently."""
        return self._blocked(self.device_limits, "gate-dev", str(device_id))

    def pass_blocked(self, pass_id):
        """True when codes for one pass have failed too often recently."""
        return self._blocked(self.pass_limits, "gate-pass", str(pass_id))

    def fail(self, device_id, pass_id=None):
        """Count a failed entry (a guess when it named pass_id); True when the desk should hear of a burst now."""
        dev = str(device_id)
        if pass_id is not None:
            for lim in self.device_limits:
                self.limiter.hit(lim, "gate-dev", dev)
            for lim in self.pass_limits:
                self.limiter.hit(lim, "gate-pass", str(pass_id))
        self.limiter.hit(self.burst_limit, "gate-any", dev)
        if self._blocked([self.burst_limit], "gate-any", dev) or self.device_blocked(device_id):
            return self.limiter.hit(ALERT, "gate-burst", dev)
        return False

    def failures(self, device_id):
        """Failures of any kind counted in the burst window (for the burst event's details)."""
        stats = self.limiter.get_window_stats(self.burst_limit, "gate-any", str(device_id))
        return self.burst_limit.amount - stats.remaining

    def clear_device(self, device_id):
        """A guard checked the keypad: forget its guesses, failures and alert."""
        dev = str(device_id)
        for lim in self.device_limits:
            self.limiter.clear(lim, "gate-dev", dev)
        self.limiter.clear(self.burst_limit, "gate-any", dev)
        self.limiter.clear(ALERT, "gate-burst", dev)


def init_app(app):
    """Set defaults and build the app's throttle."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.extensions["gate_throttle"] = Throttle(
        app.config.get("RATELIMIT_STORAGE_URI") or "db://",
        app.config["GATE_CODE_DEVICE_LIMIT"],
        app.config["GATE_CODE_PASS_LIMIT"],
        app.config["GATE_CODE_BURST"],
    )


def current():
    """The throttle of the current app."""
    return current_app.extensions["gate_throttle"]


def clear_keypad(device, actor):
    """A guard has looked at a keypad that saw a burst: it takes codes again at once (audited)."""
    from portal.audit.operations import record

    current().clear_device(device.id)
    record("gate.keypad_cleared", "device", device.id, site_id=device.site_id, actor=actor)
