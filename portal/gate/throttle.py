"""Keypad throttling per device and per pass, in a store every worker shares.

Only failed code entries count, so a busy keypad's visitors are never slowed down by
each other. The store comes from RATELIMIT_STORAGE_URI (memory:// for one process,
redis:// in production so all gunicorn workers see the same counts).
"""
from flask import current_app
from limits import parse_many, storage, strategies

DEFAULTS = {
    # A keypad: a minute's burst of typos is allowed, a steady stream of guesses is not.
    "GATE_CODE_DEVICE_LIMIT": "10/minute;60/hour",
    # One pass number: a visitor may fumble, a shoulder-surfer may not try all codes.
    "GATE_CODE_PASS_LIMIT": "5/10minutes;20/day",
}


class Throttle:
    """Failure counters for keypads and passes."""

    def __init__(self, uri, device_limit, pass_limit):
        self.store = storage.storage_from_string(uri)
        self.limiter = strategies.MovingWindowRateLimiter(self.store)
        self.device_limits = parse_many(device_limit)
        self.pass_limits = parse_many(pass_limit)
        # Once per the longest device window: the desk hears of a burst, not of every guess.
        longest = max(self.device_limits, key=lambda lim: lim.get_expiry())
        self.alert_limit = parse_many(f"1/{longest.get_expiry()} seconds")[0]

    def _blocked(self, limits, *key):
        return any(not self.limiter.test(lim, *key) for lim in limits)

    def device_blocked(self, device_id):
        """True when a keypad has failed too often recently."""
        return self._blocked(self.device_limits, "gate-dev", str(device_id))

    def pass_blocked(self, pass_id):
        """True when codes for one pass have failed too often recently."""
        return self._blocked(self.pass_limits, "gate-pass", str(pass_id))

    def fail(self, device_id, pass_id=None):
        """Count a failed entry; True when this failure starts a burst the desk should hear of."""
        key = ("gate-dev", str(device_id))
        for lim in self.device_limits:
            self.limiter.hit(lim, *key)
        if pass_id is not None:
            for lim in self.pass_limits:
                self.limiter.hit(lim, "gate-pass", str(pass_id))
        if self._blocked(self.device_limits, *key):
            return self.limiter.hit(self.alert_limit, "gate-burst", str(device_id))
        return False

    def failures(self, device_id):
        """Failures counted in the shortest device window (for the burst event's details)."""
        lim = min(self.device_limits, key=lambda item: item.get_expiry())
        stats = self.limiter.get_window_stats(lim, "gate-dev", str(device_id))
        return lim.amount - stats.remaining


def init_app(app):
    """Set defaults and build the app's throttle."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.extensions["gate_throttle"] = Throttle(app.config.get("RATELIMIT_STORAGE_URI") or "memory://",
                                               app.config["GATE_CODE_DEVICE_LIMIT"], app.config["GATE_CODE_PASS_LIMIT"])


def current():
    """The throttle of the current app."""
    return current_app.extensions["gate_throttle"]
