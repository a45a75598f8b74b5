"""Planning a worker's claimed devices: a full plan now and then, otherwise only the rows the outbox says changed.

(docs/bridge.md, "Incremental planning", says why.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from access_bridge import changes, state
from access_bridge import reconciler as rc
from access_bridge.drivers.base import Capability
from portal.core.timeutil import utcnow
from portal.passes.models import Pass
from portal.vehicles.models import Vehicle

FULL_PLAN_EVERY = 600.0  # seconds between full plans, the safety net under incremental planning
FULL_PLAN_CHUNK = 500  # devices planned together in a full plan (whole sites), so memory stays bounded
EXPIRY_EVERY = timedelta(seconds=5)
KEEP_DESIRED = 200_000  # credentials a full plan hands to the first pushes; beyond, they are computed when due


def _snapshot(device):
    """What planning needs of a device, kept between steps (ORM rows expire at commit)."""
    return SimpleNamespace(
        id=device.id,
        site_id=device.site_id,
        kind=device.kind,
        driver=device.driver,
        gate_ids=list(device.gate_ids or []),
        doors=list(device.doors or []),
        floors=list(device.floors or []),
        building_id=device.building_id,
        status=device.status,
    )


class Planner:
    """A worker's planning state: its claimed devices as last planned, the outbox cursor, when the next full plan is due."""

    def __init__(self, plan_every: float, loaded: Callable[[dict, bool], None], wake: Callable[[], None]):
        self.plan_every = plan_every
        self.loaded = loaded  # called with the devices read whole (and whether only some), before they are planned
        self.wake = wake  # asks the worker for another step soon
        self.cursor = changes.Cursor()
        self.claimed: list[int] = []
        self.unplanned: set[int] = set()  # claimed since the last plan: planned whole at the next step
        self.device_cache: dict[int, SimpleNamespace] = {}
        self.force = True
        self.last_plan = 0.0
        self.expiry_mark = utcnow()
        self.claim_soon = False  # the outbox named a device this worker has not claimed

    def claim(self, claimed: list[int]) -> None:
        """The devices this worker holds now: the newly claimed are planned whole, the lost forgotten."""
        self.unplanned = (self.unplanned | (set(claimed) - set(self.claimed))) & set(claimed)
        for lost in set(self.claimed) - set(claimed):
            self.device_cache.pop(lost, None)
        self.claimed = claimed

    def full_due(self) -> bool:
        """A full plan on start, periodically and after an error."""
        return self.force or self.cursor.last is None or time.monotonic() - self.last_plan > self.plan_every

    def plan(self, session, now):
        """A full plan when due; otherwise only what the outbox says changed."""
        return self.plan_full(session, now) if self.full_due() else self.plan_changes(session, now)

    def plan_full(self, session, now):
        """Every claimed device against every live pass and car, whole sites at a time."""
        self.cursor.reset(session)  # before reading passes: whatever commits after is read as a change
        devices = rc.devices_by_id(session, self.claimed, with_options=True)
        self.loaded(devices, False)
        self.device_cache = {i: _snapshot(d) for i, d in devices.items()}
        desired: dict | None = self.plan_devices(session, list(devices.values()), now)
        rc.finish_removals(session, devices.values(), now)
        changes.prune(session, now)
        self.last_plan, self.force, self.expiry_mark, self.unplanned = time.monotonic(), False, now, set()
        session.commit()
        return desired

    def plan_devices(self, session, devices, now):
        """Plan these devices whole, a chunk of whole sites at a time; the desired state is kept up to a bound."""
        by_site: dict[int, list] = {}
        for d in devices:
            by_site.setdefault(d.site_id, []).append(d)
        desired: dict = {}
        kept, chunk = 0, []
        for site_devices in by_site.values():
            chunk.extend(site_devices)
            if len(chunk) >= FULL_PLAN_CHUNK:
                kept = self._chunk(session, chunk, now, desired, kept)
                chunk = []
        if chunk:
            self._chunk(session, chunk, now, desired, kept)
        return desired

    @staticmethod
    def _chunk(session, devices, now, desired, kept):
        for device_id, table in rc.plan(session, devices, now).items():
            if kept < KEEP_DESIRED:  # due_ops computes the rest from the database when they are pushed
                desired[device_id] = table
                kept += len(table)
        session.flush()
        return kept

    def plan_changes(self, session, now):
        """Re-plan only the rows changes touch: a pass's or car's rows on its site's devices, a changed device whole.

        A unit's change counts as a change of each of its live passes and cars; a building's floors or a site's
        static-PIN setting, as a change of the devices whose credentials they shape.
        """
        batch = self.cursor.read(session)
        if batch.full:
            self.wake()  # more are waiting: the next step reads on
        if now - self.expiry_mark >= EXPIRY_EVERY:
            # Passes that ran out since the last look: their rows go absent (devices expire them by themselves too).
            expired = session.execute(
                select(Pass.id, Pass.site_id).where(Pass.valid_until > self.expiry_mark, Pass.valid_until <= now)
            ).all()
            batch.passes.update(i for i, _ in expired)
            batch.touched_sites.update(s for _, s in expired)
            self.expiry_mark = now
        if batch.devices - set(self.claimed):
            self.claim_soon = True  # a new device (or one of another worker's): claim at the next step, not in 10 s
            self.wake()
        self._unit_passes(session, batch, now)
        whole_ids = (batch.devices & set(self.claimed)) | self.unplanned | self._places_concern(batch)
        if not (whole_ids or batch.passes or batch.vehicles):
            return None
        desired: dict = {}
        if whole_ids:
            devices = rc.devices_by_id(session, whole_ids, with_options=True)
            self.loaded(devices, True)
            self.device_cache.update({i: _snapshot(d) for i, d in devices.items()})
            desired.update(self.plan_devices(session, list(devices.values()), now))
            rc.finish_removals(session, devices.values(), now)
            self.unplanned -= whole_ids
        targets = self._affected(session, batch, whole_ids)
        if batch.passes or batch.vehicles:
            holders = {i: d for i, d in self.device_cache.items() if i not in whole_ids}
            desired.update(rc.plan(session, targets, now, pass_ids=batch.passes, vehicle_ids=batch.vehicles, holders=holders))
        session.commit()
        return desired

    @staticmethod
    def _unit_passes(session, batch, now):
        """Units whose floor or building changed: their live passes and their cars join the batch."""
        if not batch.units:
            return
        live = (rc.among(Pass.unit_id, batch.units), Pass.status != "revoked", Pass.valid_until > now)
        for pass_id, site_id in session.execute(select(Pass.id, Pass.site_id).where(*live)):
            batch.passes.add(pass_id)
            batch.touched_sites.add(site_id)
        for car_id, site_id in session.execute(select(Vehicle.id, Vehicle.site_id).where(rc.among(Vehicle.unit_id, batch.units))):
            batch.vehicles.add(car_id)
            batch.touched_sites.add(site_id)

    def _places_concern(self, batch) -> set[int]:
        """Claimed devices a site's static-PIN setting or a building's floors shape (access_bridge.state._serves)."""
        if not (batch.sites or batch.buildings):
            return set()
        out = set()
        for i, d in self.device_cache.items():
            pins = d.site_id in batch.sites and Capability.PIN in state.capabilities(d)
            # A lift that names no floors serves its building's (any building's, when it names none).
            lift = d.kind == "elevator_controller" and not d.floors
            if pins or (lift and any(s in (None, d.site_id) and d.building_id in (None, b) for b, s in batch.buildings.items())):
                out.add(i)
        return out

    def _affected(self, session, batch, skip):
        """Claimed devices of the changed passes' and cars' sites (rc.plan adds whoever else holds them)."""
        if not (batch.passes or batch.vehicles):
            return []
        sites = set(batch.touched_sites)
        if batch.unsited:  # a change noted without its site (a face image): look it up
            if batch.passes:
                sites |= set(session.scalars(select(Pass.site_id).where(rc.among(Pass.id, batch.passes))))
            if batch.vehicles:
                sites |= set(session.scalars(select(Vehicle.site_id).where(rc.among(Vehicle.id, batch.vehicles))))
        ids = {i for i, d in self.device_cache.items() if d.site_id in sites}
        return [self.device_cache[i] for i in ids - set(skip) if i in self.device_cache]
