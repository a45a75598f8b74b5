"""Access events from devices: when each device is due to be asked, from which serial, and recording what came back."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_bridge import state
from access_bridge.drivers.base import DeviceEvent
from access_bridge.ingest import ingest_events
from access_bridge.sql import among
from portal.bridge.edge_models import DeviceEventCursor
from portal.devices import drivers
from portal.devices.drivers import Capability

log = logging.getLogger(__name__)


class EventPolls:
    """Asks each claimed device that reports events (EVENTS) for them about every `every` seconds."""

    def __init__(self, every: float):
        self.every = every
        self.last: dict[int, float] = {}  # device id -> monotonic time it was last asked

    def due(self, claimed: Iterable[int], slugs: Mapping[int, str], busy: Iterable[int]) -> set[int]:
        """Claimed devices whose events are due and which have no job in flight."""
        clock, busy = time.monotonic(), set(busy)
        out = set()
        for device_id in claimed:
            if device_id not in self.last:  # spread polls over the interval instead of bursts
                self.last[device_id] = clock - random.uniform(0, self.every)
            if (
                device_id not in busy
                and Capability.EVENTS in drivers.capabilities(slugs.get(device_id, ""))
                and clock - self.last[device_id] >= self.every
            ):
                out.add(device_id)
        return out

    def cursors(self, session: Session, devices: Mapping, ids: Iterable[int]) -> dict[int, int]:
        """device id -> last ingested serial, for the devices among ids whose events are due now (marked asked)."""
        clock = time.monotonic()
        due = [
            i for i in ids if Capability.EVENTS in state.capabilities(devices[i]) and clock - self.last.get(i, 0) >= self.every
        ]
        if not due:
            return {}
        for i in due:
            self.last[i] = clock
        stored = dict(
            session.execute(
                select(DeviceEventCursor.device_id, DeviceEventCursor.last_serial).where(among(DeviceEventCursor.device_id, due))
            )
            .tuples()
            .all()
        )
        return {i: stored.get(i, 0) for i in due}


def record(session: Session, device, events: list[DeviceEvent]) -> bool:
    """Ingest events a device reported, in a savepoint; False (logged) when that failed."""
    try:
        with session.begin_nested():
            ingest_events(session, device, events)
    except Exception:
        log.exception("ingesting %d events from device %s failed", len(events), device.id)
        return False
    return True
