"""/metrics: this process's (or, under gunicorn, every worker's) counters, and gauges read from the database.

The database gauges are read at scrape time, at most once per CACHE_SECONDS per process, so a busy
Prometheus or several of them cost a handful of small aggregate queries every few seconds.
"""

import os
import threading
import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from portal.core.timeutil import utcnow
from portal.extensions import db

CACHE_SECONDS = 5.0
_cache: dict = {"at": -1e9, "families": []}
_cache_lock = threading.Lock()


def _age(oldest, now):
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


def _read_families():
    """The database gauges: bridge queue, devices, push failures, SMS outcomes, job lag."""
    from portal.bridge.models import DeviceCredential
    from portal.devices.models import Device, DeviceCommand
    from portal.notify.models import Message

    now = utcnow()
    session = db.session
    pending, oldest = session.execute(
        select(func.count(), func.min(DeviceCredential.updated_at)).where(DeviceCredential.status == "pending")
    ).one()
    failed = session.scalar(select(func.count()).where(DeviceCredential.status == "failed"))
    queue = GaugeMetricFamily("portal_bridge_queue_depth", "Credential changes waiting to reach their device")
    queue.add_metric([], pending)
    oldest_change = GaugeMetricFamily(
        "portal_bridge_oldest_pending_seconds", "Age of the oldest credential change not yet acknowledged"
    )
    oldest_change.add_metric([], _age(oldest, now))
    failures = GaugeMetricFamily("portal_bridge_push_failures", "Credential changes whose last push failed")
    failures.add_metric([], failed)
    devices = GaugeMetricFamily("portal_devices", "Devices by state", labels=["state"])
    for state, count in session.execute(select(Device.status, func.count()).group_by(Device.status)):
        devices.add_metric([state], count)
    sms = GaugeMetricFamily("portal_sms_messages", "Outgoing SMS by outcome", labels=["status"])
    for status, count in session.execute(select(Message.status, func.count()).group_by(Message.status)):
        sms.add_metric([status], count)
    due_sms = session.scalar(
        select(func.min(Message.next_attempt_at)).where(Message.status == "queued", Message.next_attempt_at <= now)
    )
    queued_command = session.scalar(select(func.min(DeviceCommand.created_at)).where(DeviceCommand.status == "queued"))
    lag = GaugeMetricFamily("portal_job_lag_seconds", "How long the oldest due item of a queue has waited", labels=["queue"])
    lag.add_metric(["sms_outbox"], _age(due_sms, now))
    lag.add_metric(["device_commands"], _age(queued_command, now))
    return [queue, oldest_change, failures, devices, sms, lag]


class DatabaseGauges:
    """A collector answering the cached database gauges."""

    def collect(self):
        """The families, read again when the cache is older than CACHE_SECONDS."""
        with _cache_lock:
            if time.monotonic() - _cache["at"] > CACHE_SECONDS:
                try:
                    _cache["families"] = _read_families()
                finally:
                    db.session.rollback()  # a read-only scrape ends its transaction
                _cache["at"] = time.monotonic()
            return list(_cache["families"])


def forget_cache():
    """Read the database again at the next scrape (tests)."""
    _cache["at"] = -1e9


def exposition():
    """The whole /metrics text."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counters = CollectorRegistry()
        MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(DatabaseGauges())
    return generate_latest(counters) + generate_latest(gauges)
