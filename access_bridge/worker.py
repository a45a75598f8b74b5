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
from types import SimpleNamespace

from sqlalchemy import and_, or_, select

from access_bridge import changes, event_polls, leases
from access_bridge import reconciler as rc
from access_bridge.drivers.base import Capability, DriverError, get_driver
from access_bridge.event_polls import EventPolls
from access_bridge.wakeup import Listener
from portal.alarms import operations as alarm_ops
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.core.timeutil import utcnow
from portal.devices.drivers import HEALTH, can
from portal.devices.models import Device, DeviceCommand
from portal.emergency import operations as emergency_ops
from portal.emergency import queries as emergency_queries
from portal.emergency.models import EmergencyDevice
from portal.extensions import db
from portal.passes.models import Pass
from portal.vehicles.models import Vehicle

log = logging.getLogger(__name__)
DRIVER_MODULES = ("simulator", "mqtt", "isapi", "osdp")
COMMAND_TTL = timedelta(seconds=30)
FULL_PLAN_EVERY = 600.0  # seconds between full plans, the safety net under incremental planning
FULL_PLAN_CHUNK = 500  # devices planned together in a full plan (whole sites), so memory stays bounded
EXPIRY_EVERY = timedelta(seconds=5)
KEEP_DESIRED = 200_000  # credentials a full plan hands to the first pushes; beyond, they are computed when due


def load_drivers():
    """Import every driver module that is present, so their slugs are registered."""
    for name in DRIVER_MODULES:
        try:
            importlib.import_module(f"access_bridge.drivers.{name}")
        except ImportError as exc:
            if exc.name != f"access_bridge.drivers.{name}":
                log.warning("driver %s not available: %s", name, exc)


def _snapshot(device):
    """What planning needs of a device, kept between steps (ORM rows expire at commit)."""
    return SimpleNamespace(
        id=device.id,
        site_id=device.site_id,
        kind=device.kind,
        driver=device.driver,
        gate_ids=list(device.gate_ids or []),
        doors=list(device.doors or []),
        floors=list(device.floors or []),
        building_id=device.building_id,
        status=device.status,
    )


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
        self.plan_every, self.poll = plan_every, poll
        self.events = EventPolls(events_every)
        self.signal = threading.Event()
        self.listener = None
        self.inflight = {}
        self.drivers = {}
        self.slugs = {}
        self.claimed = []
        self.last_claim = self.last_plan = 0.0
        self.cursor = changes.Cursor()
        self.expiry_mark = utcnow()
        self.unplanned: set[int] = set()  # claimed since the last plan: planned whole at the next step
        self.device_cache = {}
        self.force_plan = True
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
                self.force_plan = True  # a last full plan settles removals and anything that expired
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
                if time.monotonic() - self.last_claim > self.lease.total_seconds() / 3 or self.force_plan:
                    self._claim(session, now)
                desired = self._plan(session, now)
                self._submit(session, desired, now)
                session.commit()
            except Exception:
                session.rollback()
                log.exception("bridge step failed")
                self.force_plan = True
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
        self.unplanned = (self.unplanned | (set(claimed) - set(self.claimed))) & set(claimed)
        for lost in set(self.claimed) - set(claimed):
            self.device_cache.pop(lost, None)
        self.claimed = claimed
        self.last_claim = time.monotonic()

    def _plan(self, session, now):
        """A full plan on start, periodically and after an error; otherwise only what the outbox says changed."""
        if self.force_plan or self.cursor.last is None or time.monotonic() - self.last_plan > self.plan_every:
            return self._plan_full(session, now)
        if self.listener is not None:
            self.listener.woken.clear()  # the outbox is read on every step anyway
        return self._plan_changes(session, now)

    def _plan_full(self, session, now):
        """Every claimed device against every live pass and car, whole sites at a time."""
        self.cursor.reset(session)  # before reading passes: whatever commits after is read as a change
        devices = rc.devices_by_id(session, self.claimed, with_options=True)
        self._refresh_drivers(devices)
        self._watch_alarms(devices)
        self.device_cache = {i: _snapshot(d) for i, d in devices.items()}
        desired: dict | None = self._plan_devices(session, list(devices.values()), now)
        rc.finish_removals(session, devices.values(), now)
        changes.prune(session, now)
        self.last_plan, self.force_plan, self.expiry_mark, self.unplanned = time.monotonic(), False, now, set()
        session.commit()
        return desired

    def _plan_devices(self, session, devices, now):
        """Plan these devices whole, a chunk of whole sites at a time; the desired state is kept up to a bound."""
        by_site: dict[int, list] = {}
        for d in devices:
            by_site.setdefault(d.site_id, []).append(d)
        desired: dict = {}
        kept, chunk = 0, []
        for site_devices in by_site.values():
            chunk.extend(site_devices)
            if len(chunk) >= FULL_PLAN_CHUNK:
                kept = self._plan_chunk(session, chunk, now, desired, kept)
                chunk = []
        if chunk:
            self._plan_chunk(session, chunk, now, desired, kept)
        return desired

    @staticmethod
    def _plan_chunk(session, devices, now, desired, kept):
        for device_id, table in rc.plan(session, devices, now).items():
            if kept < KEEP_DESIRED:  # due_ops computes the rest from the database when they are pushed
                desired[device_id] = table
                kept += len(table)
        session.flush()
        return kept

    def _plan_changes(self, session, now):
        """Re-plan only the rows changes touch: a pass's or car's rows on its site's devices, a changed device whole."""
        batch = self.cursor.read(session)
        if batch.full:
            self.signal.set()  # more are waiting: the next step reads on
        if now - self.expiry_mark >= EXPIRY_EVERY:
            # Passes that ran out since the last look: their rows go absent (devices expire them by themselves too).
            expired = session.execute(
                select(Pass.id, Pass.site_id).where(Pass.valid_until > self.expiry_mark, Pass.valid_until <= now)
            ).all()
            batch.passes.update(i for i, _ in expired)
            batch.touched_sites.update(s for _, s in expired)
            self.expiry_mark = now
        if batch.devices - set(self.claimed):
            self.last_claim = 0.0  # a new device (or one of another worker's): claim at the next step, not in 10 s
            self.signal.set()
        whole_ids = (batch.devices & set(self.claimed)) | self.unplanned
        if batch.sites:
            whole_ids |= {i for i, d in self.device_cache.items() if d.site_id in batch.sites}
        if not (whole_ids or batch.passes or batch.vehicles):
            return None
        desired: dict = {}
        if whole_ids:
            devices = rc.devices_by_id(session, whole_ids, with_options=True)
            self._refresh_drivers(devices, partial=True)
            self._watch_alarms(devices)
            self.device_cache.update({i: _snapshot(d) for i, d in devices.items()})
            desired.update(self._plan_devices(session, list(devices.values()), now))
            rc.finish_removals(session, devices.values(), now)
            self.unplanned -= whole_ids
        targets = self._affected(session, batch, whole_ids)
        if batch.passes or batch.vehicles:
            holders = {i: d for i, d in self.device_cache.items() if i not in whole_ids}
            desired.update(rc.plan(session, targets, now, pass_ids=batch.passes, vehicle_ids=batch.vehicles, holders=holders))
        session.commit()
        return desired

    def _affected(self, session, batch, skip):
        """Claimed devices of the changed passes' and cars' sites (rc.plan adds whoever else holds them)."""
        if not (batch.passes or batch.vehicles):
            return []
        sites = set(batch.touched_sites)
        if batch.unsited:  # a change noted without its site (a face image): look it up
            if batch.passes:
                sites |= set(session.scalars(select(Pass.site_id).where(rc.among(Pass.id, batch.passes))))
            if batch.vehicles:
                sites |= set(session.scalars(select(Vehicle.site_id).where(rc.among(Vehicle.id, batch.vehicles))))
        ids = {i for i, d in self.device_cache.items() if d.site_id in sites}
        return [self.device_cache[i] for i in ids - set(skip) if i in self.device_cache]

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
            from access_bridge.edge import EdgeRuntime

            self.edge = EdgeRuntime(self.app)
            self.edge.start(self.edge_stop)
        return self.edge

    def _candidates(self, session, now):
        """Claimed devices with something to do: due pushes, queued commands, a probe, a key audit, events."""
        mine = and_(BridgeDevice.lease_owner == self.owner, rc.among(BridgeDevice.device_id, self.inflight, negate=True))
        ids = set(
            session.scalars(
                select(DeviceCredential.device_id)
                .join(BridgeDevice, BridgeDevice.device_id == DeviceCredential.device_id)
                .where(mine, rc.due_filter(now))
                .distinct()
            )
        )
        due = set(ids)
        ids |= set(
            session.scalars(
                select(DeviceCommand.device_id)
                .join(BridgeDevice, BridgeDevice.device_id == DeviceCommand.device_id)
                .where(mine, DeviceCommand.status == "queued")
            )
        )
        ids |= set(
            session.scalars(
                select(BridgeDevice.device_id)
                .join(Device, Device.id == BridgeDevice.device_id)
                .where(mine, or_(BridgeDevice.audit_keys.is_(True), BridgeDevice.failures > 0, Device.status == "pending"))
            )
        )
        ids |= set(
            session.scalars(
                select(EmergencyDevice.device_id)
                .join(BridgeDevice, BridgeDevice.device_id == EmergencyDevice.device_id)
                .where(mine, EmergencyDevice.state == "pending")
            )
        )
        ids |= self.events.due(self.claimed, self.slugs, self.inflight)
        return ids, due

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
        ids = [i for i, _ in done]
        devices = rc.devices_by_id(session, ids)
        bds = {b.device_id: b for b in session.scalars(select(BridgeDevice).where(rc.among(BridgeDevice.device_id, ids)))}
        acks: list[tuple[int, int, str]] = []
        audits: dict[int, set[str]] = {}
        released: list[tuple[int, str, str | None]] = []
        unanswered: list[int] = []
        for device_id, future in done:
            del self.inflight[device_id]
            device, bd = devices.get(device_id), bds.get(device_id)
            if device is None or bd is None:
                continue
            if bd.lease_owner != self.owner:
                log.warning("lease on device %s lost while pushing; its results are left to the new owner", device_id)
                continue
            out = future.result()
            if out.emergency is not None:
                released.append(out.emergency)
            elif out.emergency_row is not None:
                unanswered.append(out.emergency_row)
            self._record(session, device, bd, out, acks, audits, now)
        rc.record_acks(session, acks, now)
        emergency_ops.record_device_results(session, released, now)
        emergency_ops.device_unreachable(session, unanswered)
        if audits:
            rc.audit_keys(session, audits, now)
        session.commit()

    def _record(self, session, device, bd, out: rc.Outcome, acks, audits, now):
        for op, exc in out.results:
            if exc is None:
                acks.append((op.row_id, op.gen, op.action))
            else:
                rc.record_failure(session, op, exc, now)
        for cmd_id, error in out.commands:
            cmd = session.get(DeviceCommand, cmd_id)
            cmd.status, cmd.error, cmd.done_at = ("failed", error[:200], now) if error else ("done", None, now)
        if out.error is not None:
            rc.device_failed(session, device, bd, out.error, now)
            return
        rc.device_reached(session, device, bd, now)
        if out.audited:
            bd.audit_keys = False  # done, or the driver cannot list keys and there is nothing to check
        if out.keys is not None:
            audits[device.id] = out.keys
        if out.events:
            # A use that counts down a pass is written to the outbox with it, and re-planned from there.
            event_polls.record(session, device, out.events)
