"""The bridge worker: claims devices, plans, pushes to many devices at once, records the outcome.

One Worker runs a loop on its main thread (all database work) and a thread pool for driver
calls; each device has at most one job in flight, so operations on one device stay in order
while many devices are pushed to concurrently. Devices are claimed with a lease row per device
(on PostgreSQL taken with SELECT … FOR UPDATE SKIP LOCKED), so two workers never push to the
same device; a worker that dies loses its leases when they expire.
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

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from access_bridge import reconciler as rc
from access_bridge import state
from access_bridge.drivers.base import Capability, DriverError, get_driver
from access_bridge.wakeup import Listener
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.core.timeutil import utcnow
from portal.devices.models import Device, DeviceCommand
from portal.extensions import db
from portal.passes.models import Pass

log = logging.getLogger(__name__)
DRIVER_MODULES = ("simulator", "mqtt", "isapi", "osdp")
COMMAND_TTL = timedelta(seconds=30)  # a remote open older than this is dropped, never carried out late


def load_drivers():
    """Import every driver module that is present, so their slugs are registered."""
    for name in DRIVER_MODULES:
        try:
            importlib.import_module(f"access_bridge.drivers.{name}")
        except ImportError as exc:
            if exc.name != f"access_bridge.drivers.{name}":
                log.warning("driver %s not available: %s", name, exc)


def _ingest():
    try:
        from access_bridge.ingest import ingest_events
    except ImportError:
        return None
    return ingest_events


class Worker:
    """One bridge process (or thread, in tests)."""

    def __init__(self, app, owner=None, threads=64, lease_seconds=60, max_devices=None, plan_every=15.0,
                 poll=1.0, events_every=2.0):
        load_drivers()
        self.app = app
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="bridge-push")
        self.lease = timedelta(seconds=lease_seconds)
        self.max_devices = max_devices
        self.plan_every, self.poll, self.events_every = plan_every, poll, events_every
        self.signal = threading.Event()
        self.listener = None
        self.inflight = {}
        self.drivers = {}
        self.claimed = []
        self.last_claim = self.last_plan = 0.0
        self.last_events = {}
        self.stamp = None
        self.force_plan = True
        self.ingest = _ingest()

    # -- the loop -------------------------------------------------------------------------
    def run_forever(self, stop: threading.Event):
        """Work until stop is set; wake on NOTIFY, on a finished push or every poll interval."""
        with self.app.app_context():
            self.listener = Listener(db.engine, self.signal)
        try:
            while not stop.is_set():
                self.step()
                self.signal.wait(self.poll)
                self.signal.clear()
        finally:
            self.close()

    def run_once(self, max_rounds=20):
        """Push until nothing is due or in flight (tests, `bridge run --once`)."""
        for _ in range(max_rounds):
            self.step()
            if self.inflight:
                wait(list(self.inflight.values()))
                continue
            if not self._due_now():
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
                if time.monotonic() - self.last_claim > self.lease.total_seconds() / 3 or self.force_plan:
                    self._claim(session, now)
                devices = rc.devices_by_id(session, self.claimed) if self.claimed else {}
                desired = None
                if self._should_plan(session):
                    desired = rc.plan(session, list(devices.values()), now)
                    rc.finish_removals(session, devices.values(), now)
                    self.last_plan, self.force_plan = time.monotonic(), False
                    session.commit()
                self._submit(session, devices, desired, now)
                session.commit()
            except Exception:
                session.rollback()
                log.exception("bridge step failed")
                self.force_plan = True
            finally:
                session.remove()

    def close(self):
        """Finish what is in flight, release our leases and connections."""
        if self.listener:
            self.listener.stop()
        wait(list(self.inflight.values()), timeout=30)
        with self.app.app_context():
            try:
                self._collect(db.session)
                db.session.execute(update(BridgeDevice).where(BridgeDevice.lease_owner == self.owner)
                                   .values(lease_owner=None, lease_until=None))
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
        ids = list(session.scalars(select(Device.id).where(Device.status != "removed")))
        try:
            rc.ensure_rows(session, ids)
            session.commit()
        except IntegrityError:  # another worker created them at the same moment
            session.rollback()
        until = now + self.lease
        mine = BridgeDevice.lease_owner == self.owner
        session.execute(update(BridgeDevice).where(mine).values(lease_until=until))
        held = session.scalar(select(func.count()).select_from(BridgeDevice).where(mine)) or 0
        room = None if self.max_devices is None else self.max_devices - held
        if room is None or room > 0:
            free = select(BridgeDevice.device_id).where(
                or_(BridgeDevice.lease_owner.is_(None), BridgeDevice.lease_until < now),
                BridgeDevice.device_id.in_(ids)).order_by(BridgeDevice.device_id)
            if room is not None:
                free = free.limit(room)
            # SKIP LOCKED: rows another worker is claiming right now are passed over, not waited for.
            free = free.with_for_update(skip_locked=True)
            session.execute(update(BridgeDevice).where(BridgeDevice.device_id.in_(free))
                            .values(lease_owner=self.owner, lease_until=until)
                            .execution_options(synchronize_session=False))
        session.commit()
        claimed = list(session.scalars(select(BridgeDevice.device_id).where(mine)))
        if set(claimed) != set(self.claimed):
            self.force_plan = True
        self.claimed = claimed
        self.last_claim = time.monotonic()

    def _should_plan(self, session):
        if self.force_plan or time.monotonic() - self.last_plan > self.plan_every:
            return True
        if self.listener is not None and self.listener.woken.is_set():
            self.listener.woken.clear()
            return True
        if self.listener is not None and self.listener.pushes:
            return False
        stamp = (session.execute(select(func.max(Pass.updated_at), func.count(Pass.id))).one(),
                 session.execute(select(func.max(Device.updated_at), func.count(Device.id))).one())
        changed, self.stamp = stamp != self.stamp, stamp
        return changed

    def _due_now(self):
        with self.app.app_context():
            try:
                return db.session.scalar(select(DeviceCredential.id).where(
                    DeviceCredential.device_id.in_(self.claimed), rc.due_filter(utcnow())).limit(1)) is not None
            finally:
                db.session.remove()

    # -- submitting jobs --------------------------------------------------------------------
    def _driver(self, device):
        sig = device.driver + json.dumps(device.options or {}, sort_keys=True)
        cached = self.drivers.get(device.id)
        if cached and cached[0] == sig:
            return cached[1]
        if cached:
            cached[1].close()
        driver = get_driver(device.driver, device.id, device.options or {})
        self.drivers[device.id] = (sig, driver)
        return driver

    def _submit(self, session, devices, desired, now):
        ids = [i for i in devices if i not in self.inflight]
        if not ids:
            return
        bds = {b.device_id: b for b in session.scalars(select(BridgeDevice).where(BridgeDevice.device_id.in_(ids)))}
        due = set(session.scalars(select(DeviceCredential.device_id).where(
            DeviceCredential.device_id.in_(ids), rc.due_filter(now)).distinct()))
        commands = {}
        for cmd in session.scalars(select(DeviceCommand).where(DeviceCommand.device_id.in_(ids),
                                                               DeviceCommand.status == "queued")):
            if now - cmd.created_at > COMMAND_TTL:
                cmd.status, cmd.error, cmd.done_at = "failed", "expired before the device could be reached", now
            else:
                commands.setdefault(cmd.device_id, []).append((cmd.id, cmd.kind, cmd.door, cmd.reason))
        if desired is None and due:
            desired = state.desired_for_devices(session, [devices[i] for i in due], now)
        for device_id in ids:
            device, bd = devices[device_id], bds.get(device_id)
            if bd is None or device.status == "removed":
                continue
            if bd.next_attempt_at is not None and bd.next_attempt_at > now:
                continue  # backing off; the next probe comes at next_attempt_at
            job = rc.Job(device_id, probe=bd.failures > 0 or device.status == "pending",
                         commands=commands.get(device_id, []))
            if device_id in due:
                job.ops = rc.due_ops(session, device_id, (desired or {}).get(device_id, {}), now)
            if bd.audit_keys:
                job.audit_keys = True
                rows = session.execute(select(DeviceCredential.key, DeviceCredential.desired, DeviceCredential.acked_state)
                                       .where(DeviceCredential.device_id == device_id)).all()
                job.desired_keys = {k for k, d, _ in rows if d == "present"}
            caps = state.capabilities(device)
            if (self.ingest and Capability.EVENTS in caps
                    and time.monotonic() - self.last_events.get(device_id, 0) > self.events_every):
                job.event_after = bd.event_serial
                self.last_events[device_id] = time.monotonic()
            if not (job.probe or job.commands or job.ops or job.audit_keys or job.event_after is not None):
                continue
            try:
                driver = self._driver(device)
            except DriverError as exc:
                rc.device_failed(session, device, bd, exc, now)
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
        for device_id, future in done:
            del self.inflight[device_id]
            self._record(session, future.result(), now)
        session.commit()

    def _record(self, session, out: rc.Outcome, now):
        device, bd = session.get(Device, out.device_id), session.get(BridgeDevice, out.device_id)
        if device is None or bd is None:
            return
        if bd.lease_owner != self.owner:
            log.warning("lease on device %s lost while pushing; its results are left to the new owner", device.id)
            return
        for op, exc in out.results:
            if exc is None:
                rc.record_ack(session, op.row_id, op.gen, op.action, now)
            else:
                rc.record_failure(session, op, exc, now)
        for cmd_id, error in out.commands:
            cmd = session.get(DeviceCommand, cmd_id)
            cmd.status, cmd.error, cmd.done_at = ("failed", error[:200], now) if error else ("done", None, now)
        if out.error is not None:
            rc.device_failed(session, device, bd, out.error, now)
            return
        rc.device_reached(session, device, bd, now)
        if out.keys is not None:
            rc.audit_keys(session, device.id, out.keys, now)
        if out.keys is not None or not state.capabilities(device):
            bd.audit_keys = False
        elif bd.audit_keys and out.keys is None:
            bd.audit_keys = False  # the driver cannot list keys; nothing more to check
        if out.events and self.ingest:
            self._ingest_events(session, device, bd, out.events)
        if out.results or out.keys:
            self.force_plan = self.force_plan or bool(out.keys)

    def _ingest_events(self, session, device, bd, events):
        try:
            with session.begin_nested():
                self.ingest(session, device, events)
            bd.event_serial = max(bd.event_serial, max(e.serial for e in events))
            self.force_plan = True  # a use may have used a pass up
        except Exception:
            log.exception("ingesting %d events from device %s failed", len(events), device.id)
