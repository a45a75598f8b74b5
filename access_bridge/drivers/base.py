"""The driver contract: a small base class with capability flags, and our own errors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

# Capabilities and command kinds are declared on the portal's side; drivers import them from here.
from portal.devices.drivers import COMMANDS, SPECS, Capability, DriverSpec, declare


class DriverError(Exception):
    """Base of the errors a driver may raise; vendor errors are translated into these."""


class DeviceUnreachable(DriverError):
    """Network, broker or transport failure; retry later."""


class DeviceAuthFailed(DriverError):
    """The device refused our credentials; a human must fix the options."""


class CredentialRejected(DriverError):
    """The device refused this credential (bad shape, capacity); retrying the same will not help."""


@dataclass
class Credential:
    """One pass's credential as a device should hold it."""

    key: str  # stable id on the device (employeeNo / uid), e.g. "V42"
    pass_id: int
    version: int
    name: str
    valid_from: datetime
    valid_until: datetime
    card_no: str | None = None
    pin: str | None = None
    face_jpeg: bytes | None = None
    plate: str | None = None
    floors: list[int] = field(default_factory=list)
    doors: list[int] = field(default_factory=list)
    schedule: dict | None = None
    max_uses: int | None = None


@dataclass
class DeviceEvent:
    """An access event as a device reported it, in our vocabulary."""

    serial: int
    at: datetime
    decision: str  # grant | deny
    reason: str  # a reason code from portal.events.models.REASONS
    method: str  # card | pin | face | qr | code | plate
    key: str | None = None
    card_no: str | None = None
    door: int | None = None
    direction: str | None = None
    raw: dict = field(default_factory=dict)


@dataclass
class DeviceAlarm:
    """A door alarm as a device reported it, in our vocabulary (portal.alarms.models.KINDS)."""

    kind: str
    at: datetime
    door: int | None = None
    cleared: bool = False  # the condition ended (a held door closed again)
    source_key: str | None = None  # the device's own id for the report, so a replay is recognised
    raw: dict = field(default_factory=dict)


class AlarmBuffer:
    """Alarms received on a driver's own thread (a stream, a broker callback) until the worker collects them."""

    def __init__(self, limit: int = 1000):
        self._lock = threading.Lock()
        self._items: list[DeviceAlarm] = []
        self.limit = limit
        self.notify: Callable[[], None] | None = None

    def add(self, alarm: DeviceAlarm) -> None:
        """Keep an alarm and wake whoever collects them."""
        with self._lock:
            self._items.append(alarm)
            del self._items[: max(0, len(self._items) - self.limit)]
        if self.notify is not None:
            self.notify()

    def take(self) -> list[DeviceAlarm]:
        """Everything received since the last take."""
        with self._lock:
            items, self._items = self._items, []
        return items


EMERGENCY_MODES = ("release", "restore")


class Driver:
    """Base class; one subclass per protocol, registered by slug."""

    slug: ClassVar[str] = ""
    capabilities: Capability = Capability.NONE  # a driver serving several device families may narrow it per instance

    def __init__(self, device_id: int, options: dict):
        self.device_id = device_id
        self.options = options or {}

    def upsert(self, cred: Credential) -> None:
        """Add or replace a credential; must be idempotent."""
        raise NotImplementedError

    def revoke(self, key: str) -> None:
        """Remove a credential and everything attached; idempotent (absent is fine)."""
        raise NotImplementedError

    def command(self, kind: str, door: int | None = None, reason: str | None = None) -> None:
        """Carry out a desk command of an explicit kind; a kind the driver does not declare is refused, never guessed."""
        need = COMMANDS.get(kind)
        if need is None or need not in self.capabilities:
            raise DriverError(f"{self.slug} cannot {kind}")
        (self.call_lift if kind == "call_lift" else self.open)(door, reason)

    def open(self, door: int | None = None, reason: str | None = None) -> None:
        """Open a door, gate or barrier now (REMOTE_OPEN)."""
        raise DriverError(f"{self.slug} cannot open remotely")

    def call_lift(self, door: int | None = None, reason: str | None = None) -> None:
        """Call the lift car for a visitor (CALL_LIFT); door is the controller's floor/door number."""
        raise DriverError(f"{self.slug} cannot call a lift")

    def health(self) -> bool:
        """True when the device answers."""
        raise NotImplementedError

    def check(self) -> None:
        """The health check with its reason: raises DeviceAuthFailed or DeviceUnreachable ("test connection")."""
        if not self.health():
            raise DeviceUnreachable("the device did not answer the health check")

    def events(self, after_serial: int) -> list[DeviceEvent]:
        """Events with serial numbers above after_serial (EVENTS)."""
        return []

    def keys(self) -> set[str] | None:
        """Credential keys on the device, when the protocol can list them; None otherwise."""
        return None

    def close(self) -> None:
        """Release connections."""

    def watch_alarms(self, notify: Callable[[], None]) -> None:
        """Start receiving alarms (ALARMS); notify() is called, from any thread, when one arrives."""

    def alarms(self) -> list[DeviceAlarm]:
        """Alarms received since the last call; never blocks and never talks to the device."""
        return []

    def emergency(self, mode: str) -> None:
        """release: hold every door and barrier open, lifts to normal service; restore: back to normal (EMERGENCY_RELEASE)."""
        raise DriverError(f"{self.slug} cannot release doors for an emergency")

    # Optional additions with defaults; drivers override them when the protocol can do better.

    #: False when the device's serials also count records that are not access events, so a gap in events()
    #: is not a loss; such a driver reports real gaps with lost_serials().
    serials_dense: ClassVar[bool] = True

    def lost_serials(self) -> list[tuple[int, int]]:
        """Serial ranges (first, last) the device lost, seen by the last events() call (when serials_dense is False)."""
        return []

    def upsert_many(self, creds: list[Credential]) -> dict[str, DriverError | None]:
        """Upsert several credentials; key -> None when acknowledged, else the error. Stops at the first unreachable."""
        return _each(creds, lambda cred: (cred.key, self.upsert, cred))

    def revoke_many(self, keys: list[str]) -> dict[str, DriverError | None]:
        """Revoke several keys; key -> None when acknowledged, else the error. Stops at the first unreachable."""
        return _each(keys, lambda key: (key, self.revoke, key))


def _each(items, unpack) -> dict[str, DriverError | None]:
    """Run one call per item; after DeviceUnreachable the rest fail the same way without trying."""
    results: dict[str, DriverError | None] = {}
    down: DriverError | None = None
    for item in items:
        key, call, arg = unpack(item)
        if down is not None:
            results[key] = down
            continue
        try:
            call(arg)
            results[key] = None
        except DeviceUnreachable as exc:
            results[key] = down = exc
        except DriverError as exc:
            results[key] = exc
    return results


REGISTRY: dict[str, type[Driver]] = {}


def register(cls: type[Driver]) -> type[Driver]:
    """Class decorator: make a driver available by its slug, against the portal's spec of that slug.

    A driver the portal does not declare (a test's fake) is declared here from the class.
    """
    spec = SPECS.get(cls.slug)
    if spec is None:
        declare(DriverSpec(cls.slug, cls.capabilities))
    elif spec.capabilities != cls.capabilities:
        raise TypeError(f"driver {cls.slug!r} declares {cls.capabilities} but the portal's spec says {spec.capabilities}")
    REGISTRY[cls.slug] = cls
    return cls


def get_driver(slug: str, device_id: int, options: dict) -> Driver:
    """Instantiate the driver for a device row."""
    try:
        cls = REGISTRY[slug]
    except KeyError:
        raise DriverError(f"unknown driver {slug!r}") from None
    return cls(device_id, options)


class EventBuffer:
    """Events from devices that have no serial numbers of their own (esp-rfid, OSDP decisions).

    Serials are given when events() is asked, continuing from the caller's after_serial, so they stay
    monotonic across bridge restarts as long as the caller passes the last serial it stored.
    """

    def __init__(self, limit: int = 10000):
        self._lock = threading.Lock()
        self._fresh: list[DeviceEvent] = []
        self._numbered: list[DeviceEvent] = []
        self._last = 0
        self.limit = limit
        self.dropped = 0  # events thrown away because nobody collected them in time

    def add(self, event: DeviceEvent) -> None:
        """Queue an event; its serial is assigned later."""
        with self._lock:
            self._fresh.append(event)
            overflow = len(self._fresh) + len(self._numbered) - self.limit
            if overflow > 0:
                del self._fresh[:overflow]
                self.dropped += overflow

    def take(self, after_serial: int) -> list[DeviceEvent]:
        """Events above after_serial; already numbered ones come again until the caller moves past them."""
        with self._lock:
            self._numbered = [e for e in self._numbered if e.serial > after_serial]
            self._last = max(self._last, after_serial)
            for event in self._fresh:
                self._last += 1
                event.serial = self._last
            self._numbered.extend(self._fresh)
            self._fresh = []
            return list(self._numbered)
