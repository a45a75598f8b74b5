"""The edge at run time: one store per bridge process, a decider per edge-deciding device, the sync loop."""

from __future__ import annotations

import logging
import os
import threading

from access_bridge.edge import EdgeDecider, Link
from access_bridge.edge_store import EdgeStore

log = logging.getLogger(__name__)


def make_osdp_callback(decider: EdgeDecider, gate_id, directions=None):
    """on_credential(kind, data, reader_no) -> (grant, reason) for the OSDP driver."""
    directions = directions or {}

    def on_credential(kind, data, reader_no=0):
        grant, reason, _ = decider.decide("code" if kind == "keys" else "qr", data, gate_id, directions.get(reader_no))
        return grant, reason

    return on_credential


class EdgeRuntime:
    """One per bridge process: the store file, a decider per edge-deciding device, and the sync loop.

    The worker calls attach(driver, device) for drivers with Capability.EDGE_DECISION (OSDP) and
    start(stop) once. Two bridge processes on one machine need different EDGE_STORE_PATH files.
    """

    def __init__(self, app, path=None, sync_seconds=5.0):
        path = path or app.config.get("EDGE_STORE_PATH") or os.path.join(app.instance_path, "edge.db")
        self.app = app
        self.store = EdgeStore(path)
        self.link = Link()
        self.sync_seconds = sync_seconds
        self.main = EdgeDecider(app, self.store, link=self.link)
        self.deciders = {}

    def attach(self, driver, device):
        """Bind a driver's on_credential to a decider for the device's (first) gate."""
        decider = self.deciders.get(device.id)
        if decider is None:
            decider = EdgeDecider(self.app, self.store, device_id=device.id, link=self.link)
            self.deciders[device.id] = decider
        options = device.options or {}
        # {"directions": {"0": "in", "1": "out"}}: which reader of the device faces which way.
        directions = {int(k): v for k, v in (options.get("directions") or {}).items() if str(k).isdigit()}
        driver.on_credential = make_osdp_callback(decider, device.gate_ids[0] if device.gate_ids else None, directions)
        return decider

    def start(self, stop: threading.Event):
        """Sync now and then every sync_seconds in a daemon thread until stop is set."""

        def loop():
            while True:
                try:
                    self.main.sync()
                except Exception:
                    log.exception("edge sync failed")
                if stop.wait(self.sync_seconds):
                    return

        thread = threading.Thread(target=loop, name="edge-sync", daemon=True)
        thread.start()
        return thread
