"""In-process simulated devices: credential tables that tests and the demo can inspect and break.

Each device id maps to one SimDevice in REGISTRY, shared by every driver instance in the
process. With the option {"state_file": path} the table is also kept in a JSON file, so a
device "survives" the bridge process being killed and another process can inspect it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict
from datetime import datetime

from access_bridge.drivers.base import (
    EMERGENCY_MODES,
    AlarmBuffer,
    Credential,
    CredentialRejected,
    DeviceAlarm,
    DeviceAuthFailed,
    DeviceEvent,
    DeviceUnreachable,
    Driver,
    DriverError,
    register,
)
from portal.core.timeutil import utcnow
from portal.devices.drivers import SIMULATOR

ALL = SIMULATOR.capabilities  # every capability the planner can use


class SimDevice:
    """One simulated device: its credentials, its events and the faults it is told to show."""

    def __init__(self, device_id, state_file=None):
        self.device_id = device_id
        self.state_file = state_file
        self.lock = threading.RLock()
        self.credentials: dict[str, dict] = {}
        self.log: list[tuple[str, str]] = []  # (op, key) in the order the device applied them
        self.opened: list[int | None] = []
        self.lift_calls: list[int | None] = []
        self.events: list[DeviceEvent] = []
        self.alarms = AlarmBuffer()
        self.mode = "normal"  # normal | released (an emergency holds every door open)
        self.emergency_log: list[str] = []
        self.serial = 0
        self.offline = False
        self.fail_mode = None  # None | "auth" | "reject"
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._load()

    def _load(self):
        if self.state_file and os.path.exists(self.state_file):
            with open(self.state_file) as fh:
                data = json.load(fh)
            self.credentials = data.get("credentials", {})
            self.log = [tuple(x) for x in data.get("log", [])]

    def _save(self):
        if not self.state_file:
            return
        tmp = f"{self.state_file}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            json.dump({"credentials": self.credentials, "log": self.log}, fh, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_file)

    def keys(self):
        """Keys held now."""
        with self.lock:
            return set(self.credentials)

    def __contains__(self, key) -> bool:
        """True when the device holds a credential with this key now."""
        with self.lock:
            return key in self.credentials

    def go_offline(self):
        """Stop answering (network cable pulled)."""
        self.offline = True

    def come_back(self):
        """Answer again, with the credential table it had."""
        self.offline = False

    def emit(self, decision="grant", reason="ok", method="card", key=None, card_no=None, door=None):
        """Record an access event with the next serial number, as a real controller would."""
        with self.lock:
            self.serial += 1
            ev = DeviceEvent(
                serial=self.serial,
                at=utcnow(),
                decision=decision,
                reason=reason,
                method=method,
                key=key,
                card_no=card_no,
                door=door,
            )
            self.events.append(ev)
            return ev

    def raise_alarm(self, kind, door=None, cleared=False):
        """Report an alarm (or its end) as a controller's input would."""
        with self.lock:
            self.serial += 1
            serial = self.serial
        self.alarms.add(DeviceAlarm(kind=kind, at=utcnow(), door=door, cleared=cleared, source_key=f"sim-{serial}"))

    def _enter(self, op, key):
        if self.offline:
            raise DeviceUnreachable(f"simulated device {self.device_id} is unreachable")
        if self.fail_mode == "auth":
            raise DeviceAuthFailed(f"simulated device {self.device_id} refused our password")
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if self.offline:  # dropped off while we waited
                raise DeviceUnreachable(f"simulated device {self.device_id} went away")
        finally:
            with self.lock:
                self.in_flight -= 1

    def apply(self, op, key, record=None):
        """Apply one operation after the simulated transport delay."""
        self._enter(op, key)
        with self.lock:
            if op == "upsert":
                if self.fail_mode == "reject":
                    raise CredentialRejected(f"simulated device {self.device_id} rejected {key}")
                self.credentials[key] = record
            elif op == "revoke":
                self.credentials.pop(key, None)
            self.log.append((op, key))
            self._save()


REGISTRY: dict[int, SimDevice] = {}
_registry_lock = threading.Lock()


def device(device_id, state_file=None) -> SimDevice:
    """The simulated device with this id (created on first use)."""
    with _registry_lock:
        dev = REGISTRY.get(device_id)
        if dev is None:
            dev = REGISTRY[device_id] = SimDevice(device_id, state_file)
        return dev


def reset():
    """Forget every simulated device (between tests)."""
    with _registry_lock:
        REGISTRY.clear()


def read_state_file(path) -> dict:
    """The credential table a device with a state_file holds, from another process."""
    if not os.path.exists(path):
        return {}
    with open(path) as fh:
        return json.load(fh).get("credentials", {})


def _record(cred: Credential) -> dict:
    data = asdict(cred)
    data["face_jpeg"] = len(cred.face_jpeg) if cred.face_jpeg else None
    for k, v in list(data.items()):
        if isinstance(v, datetime):
            data[k] = v.isoformat()
    return data


@register
class SimulatorDriver(Driver):
    """Simulated device with every capability; options may set delay, offline, fail_mode, state_file."""

    slug = SIMULATOR.slug
    capabilities = SIMULATOR.capabilities

    def __init__(self, device_id, options):
        super().__init__(device_id, options)
        self.sim = device(device_id, self.options.get("state_file"))
        if "delay" in self.options:
            self.sim.delay = float(self.options["delay"])

    def upsert(self, cred: Credential) -> None:
        """Store the credential with its own window."""
        self.sim.apply("upsert", cred.key, _record(cred))

    def revoke(self, key: str) -> None:
        """Remove the credential; absent is fine."""
        self.sim.apply("revoke", key)

    def open(self, door=None, reason=None) -> None:
        """Pulse the relay."""
        self.sim._enter("open", str(door))
        self.sim.opened.append(door)

    def call_lift(self, door=None, reason=None) -> None:
        """Call the simulated lift car (recorded apart from door opens)."""
        self.sim._enter("call_lift", str(door))
        self.sim.lift_calls.append(door)

    def emergency(self, mode: str) -> None:
        """Hold every door open (release) or return to normal (restore)."""
        if mode not in EMERGENCY_MODES:
            raise DriverError(f"unknown emergency mode {mode!r}")
        self.sim._enter("emergency", mode)
        with self.sim.lock:
            self.sim.mode = "released" if mode == "release" else "normal"
            self.sim.emergency_log.append(mode)

    def watch_alarms(self, notify) -> None:
        """Alarms the simulated device raises wake the caller."""
        self.sim.alarms.notify = notify

    def alarms(self) -> list[DeviceAlarm]:
        """What the simulated inputs reported since the last call."""
        return self.sim.alarms.take()

    def health(self) -> bool:
        """True unless told to drop off (a device refusing our password still answers)."""
        return not self.sim.offline

    def check(self) -> None:
        """The connection test says why, as a real device would: unreachable, or our password refused."""
        if self.sim.offline:
            raise DeviceUnreachable(f"simulated device {self.device_id} is unreachable")
        if self.sim.fail_mode == "auth":
            raise DeviceAuthFailed(f"simulated device {self.device_id} refused our password")

    def events(self, after_serial: int) -> list[DeviceEvent]:
        """Events above the serial the bridge has."""
        if self.sim.offline:
            raise DeviceUnreachable(f"simulated device {self.device_id} is unreachable")
        with self.sim.lock:
            return [e for e in self.sim.events if e.serial > after_serial]

    def keys(self) -> set[str] | None:
        """The simulator can list what it holds."""
        if self.sim.offline:
            raise DeviceUnreachable(f"simulated device {self.device_id} is unreachable")
        return self.sim.keys()
