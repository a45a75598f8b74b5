"""What the portal knows about device drivers: slug, capabilities and options, declared here.

The access bridge's driver classes take their slug and capabilities from the spec of the same slug
(access_bridge.drivers.base.register checks it), so the portal's forms and the bridge's planner read
capabilities from the one place the driver declares them, and the portal never imports the bridge.
"""

from __future__ import annotations

import enum
import importlib.util
from dataclasses import dataclass, field


class Capability(enum.Flag):
    """What a driver can do; the planner only asks for what is declared."""

    NONE = 0
    CARD = enum.auto()  # card / QR number credentials
    PIN = enum.auto()
    FACE = enum.auto()
    PLATE = enum.auto()
    FLOORS = enum.auto()  # elevator floor rights
    SCHEDULE = enum.auto()  # device enforces a weekly schedule itself
    REMOTE_OPEN = enum.auto()
    EVENTS = enum.auto()  # can report access events with serial numbers
    EDGE_DECISION = enum.auto()  # the bridge decides locally (OSDP readers)
    CALL_LIFT = enum.auto()  # elevator controllers: call the car for a visitor (not a door open)


#: Desk command kinds (DeviceCommand.kind) and the capability a driver must declare to carry each out.
COMMANDS: dict[str, Capability] = {"open": Capability.REMOTE_OPEN, "call_lift": Capability.CALL_LIFT}


@dataclass(frozen=True)
class DriverSpec:
    """One driver as the portal sees it."""

    slug: str
    capabilities: Capability
    #: option name -> what it means; the device form's JSON editor takes these keys.
    options: dict[str, str] = field(default_factory=dict)
    #: Python modules the driver needs; without them the bridge cannot load it and the portal does not offer it.
    requires: tuple[str, ...] = ()
    #: Capabilities by the value of the option "kind", for drivers that serve several device families.
    kinds: dict[str, Capability] = field(default_factory=dict)

    def capabilities_for(self, options: dict | None = None) -> Capability:
        """The capabilities of a device with these options (the "kind" option picks a family where there are several)."""
        kind = (options or {}).get("kind")
        return self.kinds.get(kind, self.capabilities) if isinstance(kind, str) else self.capabilities

    def available(self) -> bool:
        """True when every module the driver needs is installed."""
        return all(importlib.util.find_spec(name) is not None for name in self.requires)


SPECS: dict[str, DriverSpec] = {}


def declare(spec: DriverSpec) -> DriverSpec:
    """Make a driver known to the portal by its slug."""
    SPECS[spec.slug] = spec
    return spec


def capabilities(slug: str) -> Capability:
    """The capability flags a driver declares (none when the slug is unknown)."""
    spec = SPECS.get(slug)
    return spec.capabilities if spec is not None else Capability.NONE


def available() -> list[str]:
    """Slugs of the drivers the bridge can load here, sorted."""
    return sorted(slug for slug, spec in SPECS.items() if spec.available())


_ISAPI_BASE = Capability.CARD | Capability.REMOTE_OPEN | Capability.EVENTS
_ISAPI_KINDS = {
    "door": _ISAPI_BASE | Capability.PIN,
    "face": _ISAPI_BASE | Capability.PIN | Capability.FACE,
    "elevator": _ISAPI_BASE | Capability.FLOORS | Capability.CALL_LIFT,
}

SIMULATOR = declare(
    DriverSpec(
        "simulator",
        Capability.CARD
        | Capability.PIN
        | Capability.FACE
        | Capability.PLATE
        | Capability.FLOORS
        | Capability.SCHEDULE
        | Capability.REMOTE_OPEN
        | Capability.EVENTS
        | Capability.CALL_LIFT,
        options={
            "delay": "seconds each call takes",
            "offline": "answer nothing",
            "fail_mode": "how calls fail",
            "state_file": "JSON file that keeps the credential table across processes",
        },
    )
)
MQTT = declare(
    DriverSpec(
        "mqtt",
        Capability.CARD | Capability.REMOTE_OPEN | Capability.EVENTS,
        requires=("paho.mqtt",),
        options={
            "url": "mqtt://host:port",
            "topic": "the controller's topic, e.g. door/1",
            "username": "broker user",
            "password": "broker password",
            "doorip": "the controller's address in commands",
            "timeout": "seconds per ack",
        },
    )
)
ISAPI = declare(
    DriverSpec(
        "isapi",
        _ISAPI_KINDS["face"],
        kinds=_ISAPI_KINDS,
        requires=("requests",),
        options={
            "url": "http://host[:port]",
            "username": "Digest user",
            "password": "Digest password",
            "timezone": "the device's local time zone",
            "kind": "door | face | elevator",
            "fdid": "face library id",
            "face_lib": "face library type",
            "timeout": "seconds per request",
            "verify": "check the TLS certificate",
            "delete_timeout": "seconds to wait for a deletion",
        },
    )
)
OSDP = declare(
    DriverSpec(
        "osdp",
        Capability.EDGE_DECISION | Capability.REMOTE_OPEN | Capability.EVENTS,
        requires=("osdp",),
        options={
            "transport": "tcp",
            "host": "reader address",
            "port": "reader port",
            "address": "OSDP address",
            "scbk": "secure channel base key, 32 hex digits",
            "relay_output": "output that drives the strike",
            "pulse_seconds": "strike time",
            "code_length": "digits in a typed code",
            "keypad_timeout": "seconds before a half-typed code is dropped",
            "card_method": "qr | card",
            "log_level": "libosdp log level",
        },
    )
)
