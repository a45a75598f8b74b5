"""What each process counts for Prometheus: gate decisions and their time, open desk streams.

Under gunicorn these are multi-process safe: gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a
directory before any worker imports this module, each process writes its values there, and /metrics
(portal.ops.metrics) adds them up. The gate's share of the hot path is one counter increment and one
histogram observation; everything read from the database is computed at scrape time instead.
"""

import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

GATE_DECISIONS = Counter("portal_gate_decisions_total", "Gate decisions answered, by decision and reason", ["decision", "reason"])
GATE_SECONDS = Histogram(
    "portal_gate_decision_seconds",
    "Time from a verify request's arrival in the app to its answer",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DESK_STREAMS = Gauge("portal_desk_streams_open", "Security desk live streams open", multiprocess_mode="livesum")


# Each (decision, reason) pair's counter, looked up once: labels() validates and locks on every call.
# The reasons are the gate's fixed vocabulary, so this stays small.
_children: dict[tuple[str, str], Any] = {}


def gate_decision(decision: str, reason: str, started: float) -> None:
    """Count one gate answer and its time since started (time.perf_counter())."""
    child = _children.get((decision, reason))
    if child is None:
        child = _children.setdefault((decision, reason), GATE_DECISIONS.labels(decision, reason))
    child.inc()
    GATE_SECONDS.observe(time.perf_counter() - started)
