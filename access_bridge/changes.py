"""The bridge's change cursor over the portal's outbox (bridge_changes), and what a batch of changes touches.

(docs/bridge.md, "Incremental planning", says why the cursor keeps gaps.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select

from access_bridge.sql import among
from portal.bridge.models import BridgeChange

GAP_WAIT = 120.0  # seconds an unseen id below the cursor is still looked for (a transaction still committing)
GAP_SCAN = 1000  # ids below the cursor checked for gaps when the cursor is set
MAX_GAPS = 10_000
BATCH = 5000
KEEP = timedelta(hours=1)  # longer than a full plan's period, so a worker never misses rows pruned by another


@dataclass
class Batch:
    """What one read of the outbox names, by kind."""

    passes: set[int] = field(default_factory=set)
    vehicles: set[int] = field(default_factory=set)
    devices: set[int] = field(default_factory=set)
    sites: set[int] = field(default_factory=set)  # their static-PIN setting changed
    units: set[int] = field(default_factory=set)  # their floor changed: their passes' lift floors
    buildings: dict[int, int | None] = field(default_factory=dict)  # id -> site: their floors changed
    touched_sites: set[int] = field(default_factory=set)  # the communities of the changed passes and cars
    unsited: bool = False  # some pass or car came without its site: look it up
    full: bool = False  # the batch was cut at BATCH rows: more are waiting

    def __bool__(self):
        return bool(self.passes or self.vehicles or self.devices or self.sites or self.units or self.buildings)


class Cursor:
    """The last outbox id read, and the ids below it not seen yet.

    On PostgreSQL ids are taken at insert and committed in any order: id 9 may commit after id 10 was read.
    Such holes are kept for GAP_WAIT seconds and read again; a transaction slower than that is caught by the
    next full plan.
    """

    def __init__(self):
        self.last: int | None = None
        self.gaps: dict[int, float] = {}

    def reset(self, session) -> None:
        """Start from the newest id (a full plan is about to run); recent holes are still watched."""
        top = session.scalar(select(func.max(BridgeChange.id))) or 0
        seen = set(session.scalars(select(BridgeChange.id).where(BridgeChange.id > top - GAP_SCAN)))
        clock = time.monotonic()
        self.last = top
        self.gaps = {i: clock for i in range(max(top - GAP_SCAN, 0) + 1, top + 1) if i not in seen}

    def read(self, session) -> Batch:
        """The changes committed since the last read (and any late ones that filled a hole)."""
        clock = time.monotonic()
        self.gaps = {i: t for i, t in self.gaps.items() if clock - t < GAP_WAIT}
        last = self.last or 0
        where = BridgeChange.id > last
        if self.gaps:
            where = or_(where, among(BridgeChange.id, self.gaps))
        rows = session.execute(
            select(BridgeChange.id, BridgeChange.kind, BridgeChange.object_id, BridgeChange.site_id)
            .where(where)
            .order_by(BridgeChange.id)
            .limit(BATCH)
        ).all()
        batch = Batch(full=len(rows) >= BATCH)
        fresh = []
        for row_id, kind, object_id, site_id in rows:
            self.gaps.pop(row_id, None)
            if row_id > last:
                fresh.append(row_id)
            target = {
                "pass": batch.passes,
                "vehicle": batch.vehicles,
                "device": batch.devices,
                "site": batch.sites,
                "unit": batch.units,
            }.get(kind)
            if target is not None:
                target.add(object_id)
            elif kind == "building":
                batch.buildings[object_id] = site_id
            if kind in ("pass", "vehicle"):
                if site_id is None:
                    batch.unsited = True
                else:
                    batch.touched_sites.add(site_id)
        if fresh:
            seen, top = set(fresh), max(fresh)
            for i in range(max(last + 1, top - MAX_GAPS), top):
                if i not in seen:
                    self.gaps[i] = clock
            self.last = top
        return batch


def prune(session, now: datetime) -> None:
    """Drop outbox rows every worker has long read."""
    session.execute(delete(BridgeChange).where(BridgeChange.created_at < now - KEEP))
