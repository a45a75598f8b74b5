"""Device drivers, registered by slug."""
from access_bridge.drivers.base import REGISTRY, get_driver, register  # noqa: F401
