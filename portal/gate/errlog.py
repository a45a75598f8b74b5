"""Repeated identical errors logged once per interval, with how many were left out.

During a database outage every scan fails the same way; a line (and a traceback) per call buried
the log (47,000 traceback lines in a 12 s outage). The first occurrence of a kind of failure is
logged with its code locations on one line; repeats within INTERVAL_SECONDS are only counted, and
the count goes out with the next line of that kind.
"""

import threading
import time
import traceback

INTERVAL_SECONDS = 10.0
_state = {}  # key -> [when its last line went out (monotonic), repeats since]
_lock = threading.Lock()


def where(exc):
    """The failure's code locations on one line, innermost first: file:line function < …"""
    frames = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in frames if "/portal/" in f.filename][-4:] + frames[-2:]  # our calls, then where it broke
    return " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)) or "-"


def kind(exc):
    """Class names only (exception messages may quote plates or phones): 'OperationalError/DatabaseError'."""
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}/{type(orig).__name__ if orig is not None else '-'}"


def log_failure(logger, level, what, exc, **ids):
    """Log what failed (ids and class names only), once per INTERVAL_SECONDS per (what, kind); True if logged."""
    key = (logger.name, what, kind(exc))
    now = time.monotonic()
    with _lock:
        state = _state.get(key)
        if state is not None and now - state[0] < INTERVAL_SECONDS:
            state[1] += 1
            return False
        repeats = state[1] if state is not None else 0
        _state[key] = [now, 0]
    fields = "".join(f" {k}={v}" for k, v in ids.items())
    logger.log(
        level, "%s%s error=%s repeats=%d in the last %.0f s at %s", what, fields, key[2], repeats, INTERVAL_SECONDS, where(exc)
    )
    return True


def reset():
    """Forget every count (tests)."""
    with _lock:
        _state.clear()
