"""Device drivers, registered by slug."""

from access_bridge.drivers import isapi, mqtt, osdp  # noqa: F401  (importing them registers "isapi", "mqtt", "osdp")
from access_bridge.drivers.base import REGISTRY, get_driver, register  # noqa: F401
