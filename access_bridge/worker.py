"""The bridge worker: claims devices, plans, pushes to many devices at once, records the outcome.

(docs/bridge.md, "The worker", says how devices are leased and kept in order.)
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import timedelta

from sqlalchemy import select

from access_bridge import leases, outcomes
from access_bridge import reconciler as rc
from access_bridge.drivers.base import Capability, DriverError, get_driver
from access_bridge.event_polls import EventPolls
from access_bridge.planner import FULL_PLAN_EVERY, Planner
from access_bridge.wakeup import Listener
from portal.alarms import operations as alarm_ops
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.core.timeutil import utcnow
from portal.devices.drivers import HEALTH, can
from portal.devices.models import Device, DeviceCommand
from portal.emergency import queries as emergency_queries
from portal.extensions import db

log = logging.getLogger(__name__)
DRIVER_MODULES = ("simulator", "mqtt", "isapi", "osdp")
COMMAND_TTL = timedelta(seconds=30)


def load_drivers():
    """Import every driver module that is present, so their slugs are registered."""
    for name in DRIVER_MODULES:
        try:
            importlib.import_module(f"access_bridge.drivers.{name}")
        except ImportError as exc:
            if exc.name != f"access_bridge.drivers.{name}":
                log.warning("driver %s not available: %s", name, exc)


class Worker:
    """One bridge process (or thread, in tests)."""

    def __init__(
        self,
        app,
        owner=None,
        threads=64,
        lease_seconds=30,
        max_devices=None,
        plan_every=FULL_PLAN_EVERY,
        poll=1.0,
        events_every=5.0,
    ):
        load_drivers()
        self.app = app
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="bridge-push")
        self.lease = timedelta(seconds=lease_seconds)
        self.max_devices = max_devices
        self.poll = poll
        self.events = EventPolls(events_every)
        self.signal = threading.Event()
        self.listener = None
        self.inflight = {}
        self.drivers = {}
        self.slugs = {}
        self.claimed = []
        self.last_claim = 0.0
        self.planner = Planner(plan_every, self._loaded, self.signal.set)
        self.edge = None
        self.edge_stop = threading.Event()
        self.watching = set()  # devices whose alarms this worker receives

    # -- the loop -------------------------------------------------------------------------
    def run_forever(self, stop: threading.Event):
        """Work until stop is set; wake on NOTIFY, on a finished push or every poll interval."""
        with self.app.app_context():
            self.listener = Listener(db.engine, self.signal, self.app.instance_path)
        try:
            while not stop.is_set():
                self.step()
                self.signal.wait(self.poll)
                self.signal.clear()
        finally:
            self.close()

    def run_once(self, max_rounds=20):
        """Push until nothing is due or in flight (tests, `bridge run --once`); events are fetched every round."""
        self.events.every = 0
        for _ in range(max_rounds):
            self.step()
            self.events.every = float("inf")  # events are fetched in the first round only
            if self.inflight:
                wait(list(self.inflight.values()))
                continue
            if not self._due_now():
                self.planner.force = True  # a last full plan settles removals and anything that expired
                self.step()
                break

    def step(self):
        """One pass of the loop: record finished jobs, claim, plan when something changed, submit jobs."""
        with self.app.app_context():
            session = db.session
            session.info["bridge_quiet"] = True
            try:
                now = utcnow()
                self._collect(session)
                self._drain_alarms(session)
                if time.monotonic() - self.last_claim > self.lease.total_seconds() / 3 or self.planner.force:
                    self._claim(session, now)
                desired = self._plan(session, now)
                self._submit(session, desired, now)
                session.commit()
            except Exception:
                session.rollback()
                log.exception("bridge step failed")
                self.planner.force = True
            finally:
                session.remove()

    def close(self):
        """Finish what is in flight, release our leases and connections."""
        self.edge_stop.set()
        if self.listener:
            self.listener.stop()
        wait(list(self.inflight.values()), timeout=30)
        with self.app.app_context():
            try:
                self._collect(db.session)
                leases.release(db.session, self.owner)
                db.session.commit()
            finally:
                db.session.remove()
        for _, driver in self.drivers.values():
            try:
                driver.close()
            except Exception:
                log.warning("closing a driver failed", exc_info=True)
        self.pool.shutdown(wait=False)

    # -- claiming and planning ------------------------------------------------------------
    def _claim(self, session, now):
        claimed = leases.claim(session, self.owner, self.lease, self.max_devices, now)
        self.planner.claim(claimed)
        self.claimed = claimed
        self.last_claim = time.monotonic()

    def _plan(self, session, now):
        """A full plan on start, periodically and after an error; otherwise only what the outbox says changed."""
        if self.listener is not None and not self.planner.full_due():
            self.listener.woken.clear()  # the outbox is read on every step anyway
        desired = self.planner.plan(session, now)
        if self.planner.claim_soon:
            self.planner.claim_soon, self.last_claim = False, 0.0
        return desired

    def _loaded(self, devices, partial):
        self._refresh_drivers(devices, partial)
        self._watch_alarms(devices)

    def _due_now(self):
        with self.app.app_context():
            try:
                return (
                    db.session.scalar(
                        select(DeviceCredential.id)
                        .where(rc.among(DeviceCredential.device_id, self.claimed), rc.due_filter(utcnow()))
                        .limit(1)
                    )
                    is not None
                )
            finally:
                db.session.remove()

    # -- submitting jobs --------------------------------------------------------------------
    def _refresh_drivers(self, devices, partial=False):
        """Drop cached drivers whose device changed its driver or options (only these devices' when partial)."""
        if partial:
            self.slugs.update({i: d.driver for i, d in devices.items()})
        else:
            self.slugs = {i: d.driver for i, d in devices.items()}
        for device_id, (sig, driver) in list(self.drivers.items()):
            if partial and device_id not in devices:
                continue
            d = devices.get(device_id)
            if d is None or sig != d.driver + json.dumps(d.options or {}, sort_keys=True):
                del self.drivers[device_id]
                self.watching.discard(device_id)
                driver.close()

    def _driver(self, device):
        cached = self.drivers.get(device.id)
        if cached:
            return cached[1]
        driver = get_driver(device.driver, device.id, device.options or {})
        self.drivers[device.id] = (device.driver + json.dumps(device.options or {}, sort_keys=True), driver)
        if Capability.EDGE_DECISION in type(driver).capabilities:
            # Readers that leave the decision to us (OSDP) get a decider that keeps working offline.
            self._edge_runtime().attach(driver, device)
        return driver

    # -- alarms ---------------------------------------------------------------------------------------------
    def _watch_alarms(self, devices):
        """Every claimed device that reports alarms gets its driver now (ISAPI opens its alert stream)."""
        for device in devices.values():
            if device.id in self.watching or device.status == "removed":
                continue
            if not can(device.driver, device.options, Capability.ALARMS):
                continue
            try:
                self._driver(device).watch_alarms(self.signal.set)
                self.watching.add(device.id)
            except DriverError as exc:
                log.warning("device %s: alarms not watched: %s", device.id, exc)

    def _drain_alarms(self, session):
        """Alarms the drivers received on their own threads become rows (and reach the desk at commit)."""
        for device_id, (_sig, driver) in list(self.drivers.items()):
            received = driver.alarms()
            if not received:
                continue
            device = session.get(Device, device_id)
            if device is None:
                continue
            for alarm in received:
                try:
                    with session.begin_nested():
                        if alarm.cleared:
                            alarm_ops.clear_alarm(device, alarm.kind, alarm.door, alarm.at)
                        else:
                            alarm_ops.raise_alarm(device, alarm.kind, alarm.at, alarm.door, alarm.source_key, {"raw": alarm.raw})
                except Exception:  # one malformed report must not lose the others
                    log.exception("device %s: alarm %r not recorded", device_id, alarm.kind)

    def _edge_runtime(self):
        if self.edge is None:
            from access_bridge.edge_runtime import EdgeRuntime

            self.edge = EdgeRuntime(self.app)
            self.edge.start(self.edge_stop)
        return self.edge

    def _candidates(self, session, now):
        """Claimed devices with something to do (leases.with_work), and those whose event log is due a read."""
        ids, due = leases.with_work(session, self.owner, self.inflight, now)
        return ids | self.events.due(self.claimed, self.slugs, self.inflight), due

    def _submit(self, session, desired, now):
        ids, due = self._candidates(session, now)
        if not ids:
            return
        devices = rc.devices_by_id(session, ids)
        bds = {b.device_id: b for b in session.scalars(select(BridgeDevice).where(rc.among(BridgeDevice.device_id, ids)))}
        ids = [i for i in ids if i in devices and i in bds and devices[i].status != "removed"]
        waiting = {i for i in ids if bds[i].next_attempt_at is not None and bds[i].next_attempt_at > now}  # backing off
        commands: dict[int, list[tuple[int, str, int | None, str | None]]] = {}
        for cmd in session.scalars(
            select(DeviceCommand).where(rc.among(DeviceCommand.device_id, ids), DeviceCommand.status == "queued")
        ):
            if now - cmd.created_at > COMMAND_TTL:
                cmd.status, cmd.error, cmd.done_at = "failed", "expired before the device could be reached", now
            else:
                commands.setdefault(cmd.device_id, []).append((cmd.id, cmd.kind, cmd.door, cmd.reason))
        # A manager's connection test does not wait out the backoff: it runs now, alone.
        for i in waiting:
            commands[i] = [c for c in commands.get(i, []) if c[1] == HEALTH]
        ids = [i for i in ids if i not in waiting or commands[i]]
        # A fire or evacuation holds credential pushes and revocations back until it ends (the doors are open anyway).
        paused = emergency_queries.paused_site_ids(session)
        emergencies = emergency_queries.due_for_devices(session, ids)
        due = {i: devices[i] for i in ids if i in due and i not in waiting and devices[i].site_id not in paused}
        audit = [i for i in ids if bds[i].audit_keys and i not in waiting]
        ops = rc.due_ops(session, due, desired, now) if due else {}
        present: dict[int, set[str]] = {}
        if audit:
            for device_id, key in session.execute(
                select(DeviceCredential.device_id, DeviceCredential.key).where(
                    rc.among(DeviceCredential.device_id, audit), DeviceCredential.desired == "present"
                )
            ):
                present.setdefault(device_id, set()).add(key)
        cursors = self.events.cursors(session, devices, ids)
        for device_id in ids:
            device, bd = devices[device_id], bds[device_id]
            if device_id in waiting:
                job = rc.Job(device_id, commands=commands[device_id])
            else:
                job = rc.Job(
                    device_id,
                    probe=bd.failures > 0 or device.status == "pending",
                    commands=commands.get(device_id, []),
                    ops=ops.get(device_id, []),
                    audit_keys=bd.audit_keys,
                    desired_keys=present.get(device_id, set()),
                    event_after=cursors.get(device_id),
                    emergency=emergencies.get(device_id),
                )
            if not (job.probe or job.commands or job.ops or job.audit_keys or job.event_after is not None or job.emergency):
                continue
            try:
                driver = self._driver(device)
            except DriverError as exc:
                rc.device_failed(session, device, bd, exc, now)
                for cmd_id, kind, _door, _reason in job.commands:
                    if kind == HEALTH:  # options the driver cannot start with: the test says so at once
                        cmd = session.get(DeviceCommand, cmd_id)
                        cmd.status, cmd.error, cmd.done_at = "failed", f"error: {exc}"[:200], now
                continue
            future = self.pool.submit(rc.run_job, driver, job)
            future.add_done_callback(lambda _f: self.signal.set())
            self.inflight[device_id] = future

    # -- recording outcomes ------------------------------------------------------------------
    def _collect(self, session):
        done = [(i, f) for i, f in self.inflight.items() if f.done()]
        if not done:
            return
        now = utcnow()
        for device_id, _ in done:
            del self.inflight[device_id]
        devices = rc.devices_by_id(session, [i for i, _ in done])
        outcomes.record_jobs(session, self.owner, devices, done, now)
        session.commit()
