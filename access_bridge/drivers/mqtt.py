"""MQTT door controllers speaking esp-rfid's dialect.

(docs/bridge.md gives the options and says how credentials, acks and events map.)
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from access_bridge.drivers import mqtt_pool
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
    EventBuffer,
    register,
)
from portal.devices.drivers import MQTT

# esp-rfid "access" values → (decision, reason); a known card refused outside its window reads "Denied" before it.
_ACCESS = {"always": ("grant", "ok"), "admin": ("grant", "ok"), "expired": ("deny", "expired"), "disabled": ("deny", "revoked")}


# esp-rfid-style "io" status messages (io, state) → (our alarm kind, cleared); other states (a door opened by a
# valid card, then closed) are no alarm. docs/bridge.md lists the payloads.
_IO = {
    ("door", "forced"): ("door_forced", False),
    ("door", "held"): ("door_held", False),
    ("door", "closed"): ("door_held", True),
    ("tamper", "on"): ("tamper", False),
    ("duress", "on"): ("duress", False),
    ("fire", "on"): ("fire_input", False),
    ("power", "lost"): ("power_loss", False),
    ("link", "lost"): ("link_loss", False),
}


def io_alarm(msg: dict) -> DeviceAlarm | None:
    """Map an esp-rfid-style io status message to an alarm, or None when it is no alarm."""
    found = _IO.get((str(msg.get("io", "")).lower(), str(msg.get("state", "")).lower()))
    if found is None:
        return None
    kind, cleared = found
    try:
        at = datetime.fromtimestamp(int(msg["time"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        at = datetime.now(UTC)
    door = msg.get("door")
    return DeviceAlarm(kind=kind, at=at, door=door if type(door) is int else None, cleared=cleared, raw=msg)


@dataclass
class _Waiter:
    kind: str
    uid: str | None
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict | None = None
    items: list = field(default_factory=list)


def _truthy(value) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def access_event(msg: dict) -> DeviceEvent:
    """Map an esp-rfid access message to a DeviceEvent (serial 0 until numbered)."""
    access = str(msg.get("access", "")).lower()
    known = _truthy(msg.get("isKnown"))
    decision, reason = _ACCESS.get(access, ("deny", "not_yet_valid" if known else "unknown"))
    try:
        at = datetime.fromtimestamp(int(msg["time"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        at = datetime.now(UTC)
    uid = msg.get("uid")
    return DeviceEvent(
        serial=0,
        at=at,
        decision=decision,
        reason=reason,
        method="card",
        key=(msg.get("username") or None) if known else None,
        card_no=str(uid) if uid is not None else None,
        raw=msg,
    )


class Pending:
    """Commands published to one device whose acks are still to come.

    The bench and the reconciler can begin batches on many devices first and wait afterwards, so a thousand
    devices cost one round trip, not a thousand.
    """

    def __init__(self, driver: MqttDriver):
        self.driver = driver
        self.results: dict[str, DriverError | None] = {}
        self.batch: list[tuple[str, _Waiter, str | None]] = []
        self.sent: set[str] = set()

    def add(self, key: str, waiter: _Waiter, uid: str | None) -> None:
        """Track one published command for key."""
        self.batch.append((key, waiter, uid))

    def fail_unsent(self, keys: list[str], error: DriverError) -> None:
        """Keys whose commands could not all be published fail with error."""
        for key in keys:
            if key not in self.sent and self.results.get(key) is None:
                self.results[key] = error

    def wait(self) -> dict[str, DriverError | None]:
        """key -> None when acknowledged, else the error."""
        for key, error in self.driver._collect(self.batch).items():
            if self.results.get(key) is None:
                self.results[key] = error
        return self.results


@register
class MqttDriver(Driver):
    """esp-rfid over MQTT: adduser / deletuid / opendoor / getuserlist with acks."""

    slug = MQTT.slug
    capabilities = MQTT.capabilities

    def __init__(self, device_id: int, options: dict):
        super().__init__(device_id, options)
        try:
            url, topic = self.options["url"], self.options["topic"].rstrip("/")
        except (KeyError, AttributeError) as exc:
            raise DriverError("mqtt options need url and topic") from exc
        self.timeout = float(self.options.get("timeout", 5))
        self.doorip = str(self.options.get("doorip", ""))
        self.cmd_topic, self.send_topic = f"{topic}/cmd", f"{topic}/send"
        self._waiting: deque[_Waiter] = deque()
        self._lock = threading.Lock()
        self._uids: dict[str, str | None] = {}  # key -> uid on the device
        self._listed = False
        self._events = EventBuffer()
        self._alarms = AlarmBuffer()
        self._released = False
        self._broker = mqtt_pool.acquire(url, self.options.get("username"), self.options.get("password"))
        self._subscribed = self._broker.subscribe(self.send_topic, self._on_message)

    # -- contract ---------------------------------------------------------------------------------------------
    def upsert(self, cred: Credential) -> None:
        """Add or replace the user; waits for the device's ack."""
        self._raise_first(self.upsert_many([cred]))

    def revoke(self, key: str) -> None:
        """Delete the user with this key, if the device has it."""
        self._raise_first(self.revoke_many([key]))

    def upsert_many(self, creds: list[Credential]) -> dict[str, DriverError | None]:
        """Publish every add, then wait for all acks under one deadline."""
        return self.begin_upsert_many(creds).wait()

    def revoke_many(self, keys: list[str]) -> dict[str, DriverError | None]:
        """Publish every delete, then wait for all acks under one deadline."""
        return self.begin_revoke_many(keys).wait()

    def begin_upsert_many(self, creds: list[Credential]) -> Pending:
        """Publish the adds (and deletes of changed card numbers) now; Pending.wait() collects the acks."""
        pending = Pending(self)
        try:
            self._ensure_listed()
            for cred in creds:
                if not cred.card_no:
                    pending.results[cred.key] = CredentialRejected("esp-rfid users need a card number (uid)")
                    continue
                old = self._uids.get(cred.key)
                if old is not None and old != cred.card_no:
                    pending.add(cred.key, self._send({"cmd": "deletuid", "uid": old}, "deletuid", old), None)
                body = {
                    "cmd": "adduser",
                    "uid": cred.card_no,
                    "user": cred.key,
                    "acctype": "1",
                    "validsince": int(cred.valid_from.timestamp()),
                    "validuntil": int(cred.valid_until.timestamp()),
                }
                pending.add(cred.key, self._send(body, "adduser", cred.card_no), cred.card_no)
                pending.sent.add(cred.key)
        except DeviceUnreachable as exc:
            pending.fail_unsent([cred.key for cred in creds], exc)
        return pending

    def begin_revoke_many(self, keys: list[str]) -> Pending:
        """Publish the deletes now (keys the device does not hold succeed at once); Pending.wait() collects."""
        pending = Pending(self)
        try:
            self._ensure_listed()
            for key in keys:
                uid = self._uids.get(key)
                if uid is None:
                    pending.results[key] = None
                    continue
                pending.add(key, self._send({"cmd": "deletuid", "uid": uid}, "deletuid", uid), None)
                pending.sent.add(key)
        except DeviceUnreachable as exc:
            pending.fail_unsent(keys, exc)
        return pending

    def open(self, door: int | None = None, reason: str | None = None) -> None:
        """Pulse the door relay (opendoor) and wait for the ack."""
        self._wait([self._send({"cmd": "opendoor"}, "opendoor", None)])

    def emergency(self, mode: str) -> None:
        """Hold the door open (release) or return to normal (restore); waits for the device's ack."""
        if mode not in EMERGENCY_MODES:
            raise DriverError(f"unknown emergency mode {mode!r}")
        self._wait([self._send({"cmd": "emergency", "mode": mode}, "emergency", None)])

    def watch_alarms(self, notify) -> None:
        """Status messages already arrive on the reply topic; notify() wakes the worker when one is an alarm."""
        self._alarms.notify = notify

    def alarms(self) -> list[DeviceAlarm]:
        """Alarms from status messages received since the last call."""
        return self._alarms.take()

    def health(self) -> bool:
        """True when the broker is connected and the device answers a user-list request."""
        try:
            self._list_users()
        except (DeviceUnreachable, DeviceAuthFailed):
            return False  # as ISAPI's: a broker refusing our login is no usable device; pushes say why
        return True

    def check(self) -> None:
        """Ask the device for its user list; a broker refusing our login raises DeviceAuthFailed."""
        self._list_users()

    def keys(self) -> set[str]:
        """Keys (esp-rfid user names) on the device, from getuserlist."""
        return set(self._list_users())

    def events(self, after_serial: int) -> list[DeviceEvent]:
        """Access events received so far, numbered from after_serial on."""
        return self._events.take(after_serial)

    def close(self) -> None:
        """Stop listening; the shared connection closes with its last user."""
        if not self._released:
            self._released = True
            self._broker.unsubscribe(self.send_topic)
            mqtt_pool.release(self._broker)

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _ready(self) -> None:
        """Fail fast when the broker is down, and never send before our reply topic is subscribed."""
        limit = min(self.timeout, 2.0)
        connect_by = time.monotonic() + limit
        self._broker.answered.wait(limit)  # a refused login is known at its CONNACK: waiting on would change nothing
        connected = not self._broker.refused and self._broker.connected.wait(max(0.0, connect_by - time.monotonic()))
        if not connected or not self._subscribed.wait(limit):
            if self._broker.refused:
                raise DeviceAuthFailed(f"MQTT broker {self._broker.url} refused our login: {self._broker.refused}")
            raise DeviceUnreachable(f"MQTT broker {self._broker.url} unreachable")

    def _send(self, body: dict, kind: str, uid: str | None) -> _Waiter:
        self._ready()
        waiter = _Waiter(kind, uid)
        with self._lock:
            self._waiting.append(waiter)
        self._broker.publish(self.cmd_topic, json.dumps({**body, "doorip": self.doorip}))
        return waiter

    def _wait(self, waiters: list[_Waiter]) -> None:
        deadline = time.monotonic() + self.timeout
        for waiter in waiters:
            if not waiter.done.wait(max(0.0, deadline - time.monotonic())):
                with self._lock:
                    for pending in waiters:
                        if pending in self._waiting:
                            self._waiting.remove(pending)
                raise DeviceUnreachable(f"no {waiter.kind} ack from {self.cmd_topic} within {self.timeout:g}s")

    def _collect(self, batch: list[tuple[str, _Waiter, str | None]]) -> dict[str, DriverError | None]:
        results: dict[str, DriverError | None] = {}
        try:
            self._wait([waiter for _, waiter, _ in batch])
        except DeviceUnreachable as exc:
            unreachable: DeviceUnreachable | None = exc
        else:
            unreachable = None
        if unreachable is not None:
            # An ack may be lost after the device acted: re-read the user list before trusting the map again.
            self._listed = False
        for key, waiter, uid in batch:
            if not waiter.done.is_set():
                results[key] = unreachable
            elif results.setdefault(key, None) is None:
                if waiter.kind == "adduser":
                    self._uids[key] = uid
                elif self._uids.get(key) == waiter.uid:
                    self._uids.pop(key, None)
        return results

    @staticmethod
    def _raise_first(results: dict[str, DriverError | None]) -> None:
        for error in results.values():
            if error is not None:
                raise error

    def _ensure_listed(self) -> None:
        # After a restart the key→uid map is empty; one user list makes it authoritative again.
        if not self._listed:
            self._list_users()

    @staticmethod
    def prime(drivers: list[MqttDriver]) -> dict[int, DriverError | None]:
        """Read the user lists of many devices at once (one round trip, not one per device); device_id -> error."""
        started: list[tuple[MqttDriver, _Waiter]] = []
        errors: dict[int, DriverError | None] = {}
        for driver in drivers:
            try:
                started.append((driver, driver._send({"cmd": "getuserlist"}, "getuserlist", None)))
            except DeviceUnreachable as exc:
                errors[driver.device_id] = exc
        for driver, waiter in started:
            try:
                driver._list_users(waiter)
                errors[driver.device_id] = None
            except DeviceUnreachable as exc:
                errors[driver.device_id] = exc
        return errors

    def _list_users(self, waiter: _Waiter | None = None) -> dict[str, str]:
        waiter = waiter or self._send({"cmd": "getuserlist"}, "getuserlist", None)
        self._wait([waiter])
        count = str((waiter.reply or {}).get("count", ""))
        if count.isdigit() and int(count) != len(waiter.items):
            # The tail of an earlier answer whose waiter timed out, ended by that answer's ack: a list missing
            # users would let a revocation "succeed" without a delete, leaving the credential on the door.
            self._listed = False
            raise DeviceUnreachable(f"user list from {self.cmd_topic} incomplete: {len(waiter.items)} of {count} users")
        users = {str(item.get("user") or item.get("username")): str(item.get("uid")) for item in waiter.items}
        self._uids = {**users}
        self._listed = True
        return users

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            msg = json.loads(payload)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        kind = msg.get("type") or msg.get("command")
        if kind == "access":
            self._events.add(access_event(msg))
            return
        if kind == "io":
            alarm = io_alarm(msg)
            if alarm is not None:
                self._alarms.add(alarm)
            return
        with self._lock:
            if kind == "userfile":
                for waiter in self._waiting:
                    if waiter.kind == "getuserlist":
                        waiter.items.append(msg)
                        break
                return
            uid = msg.get("uid")
            for waiter in self._waiting:
                if waiter.kind == kind and (uid is None or waiter.uid is None or str(uid) == waiter.uid):
                    self._waiting.remove(waiter)
                    waiter.reply = msg
                    waiter.done.set()
                    return
