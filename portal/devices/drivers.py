"""What the portal knows about device drivers: slug, capabilities and options, declared here.

The access bridge's driver classes take their slug and capabilities from the spec of the same slug
(access_bridge.drivers.base.register checks it), so the portal's forms and the bridge's planner read
capabilities from the one place the driver declares them, and the portal never imports the bridge.
"""

from __future__ import annotations

import enum
import importlib.util
from dataclasses import dataclass, field

from portal.devices import driver_options as opts


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
    ALARMS = enum.auto()  # reports door alarms (forced, held open, tamper, duress, fire input, power or link loss)
    EMERGENCY_RELEASE = enum.auto()  # holds doors and barriers open and returns lifts to normal on command, and back


#: Desk command kinds (DeviceCommand.kind) and the capability a driver must declare to carry each out.
COMMANDS: dict[str, Capability] = {"open": Capability.REMOTE_OPEN, "call_lift": Capability.CALL_LIFT}
#: A DeviceCommand of this kind is a manager's "test connection": the bridge runs the driver's health check.
#: When it fails, the command's error starts with one of HEALTH_FAILURES and ": ", so the page can say which.
HEALTH = "health"
HEALTH_FAILURES = ("auth_failed", "unreachable", "error")


@dataclass(frozen=True)
class DriverSpec:
    """One driver as the portal sees it."""

    slug: str
    capabilities: Capability
    #: The driver's options (portal.devices.driver_options): the device form is generated from them.
    options: tuple = ()
    #: Python modules the driver needs; without them the bridge cannot load it and the portal does not offer it.
    requires: tuple[str, ...] = ()
    #: Capabilities by the value of the option "kind", for drivers that serve several device families.
    kinds: dict[str, Capability] = field(default_factory=dict)

    def capabilities_for(self, options: dict | None = None) -> Capability:
        """The capabilities of a device with these options (the "kind" option picks a family where there are several)."""
        kind = (options or {}).get("kind")
        return self.kinds.get(kind, self.capabilities) if isinstance(kind, str) else self.capabilities

    def option(self, name: str):
        """The declared option of this name, or None."""
        return next((o for o in self.options if o.name == name), None)

    def available(self) -> bool:
        """True when every module the driver needs is installed."""
        return all(importlib.util.find_spec(name) is not None for name in self.requires)


SPECS: dict[str, DriverSpec] = {}


def declare(spec: DriverSpec) -> DriverSpec:
    """Make a driver known to the portal by its slug."""
    SPECS[spec.slug] = spec
    return spec


def can(slug: str, options: dict | None, capability: Capability) -> bool:
    """True when a device on this driver, with these options, declares the capability."""
    spec = SPECS.get(slug)
    return spec is not None and capability in spec.capabilities_for(options)


def capabilities(slug: str) -> Capability:
    """The capability flags a driver declares (none when the slug is unknown)."""
    spec = SPECS.get(slug)
    return spec.capabilities if spec is not None else Capability.NONE


def available() -> list[str]:
    """Slugs of the drivers the bridge can load here, sorted."""
    return sorted(slug for slug, spec in SPECS.items() if spec.available())


_ISAPI_BASE = Capability.CARD | Capability.REMOTE_OPEN | Capability.EVENTS | Capability.ALARMS
_ISAPI_KINDS = {
    "door": _ISAPI_BASE | Capability.PIN | Capability.EMERGENCY_RELEASE,
    "face": _ISAPI_BASE | Capability.PIN | Capability.FACE | Capability.EMERGENCY_RELEASE,
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
        | Capability.CALL_LIFT
        | Capability.ALARMS
        | Capability.EMERGENCY_RELEASE,
        options=opts.SIMULATOR_OPTIONS,
    )
)
MQTT = declare(
    DriverSpec(
        "mqtt",
        Capability.CARD | Capability.REMOTE_OPEN | Capability.EVENTS | Capability.ALARMS | Capability.EMERGENCY_RELEASE,
        requires=("paho.mqtt",),
        options=opts.MQTT_OPTIONS,
    )
)
ISAPI = declare(
    DriverSpec(
        "isapi",
        _ISAPI_KINDS["face"],
        kinds=_ISAPI_KINDS,
        requires=("requests",),
        options=opts.ISAPI_OPTIONS,
    )
)
OSDP = declare(
    DriverSpec(
        "osdp",
        Capability.EDGE_DECISION | Capability.REMOTE_OPEN | Capability.EVENTS | Capability.ALARMS | Capability.EMERGENCY_RELEASE,
        requires=("osdp",),
        options=opts.OSDP_OPTIONS,
    )
)
