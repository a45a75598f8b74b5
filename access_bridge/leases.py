"""Device leases: each device is pushed to by one bridge worker at a time.

A worker claims devices with a lease row per device (on PostgreSQL taken with SELECT … FOR UPDATE SKIP LOCKED),
so two workers never push to the same device; a worker that dies loses its leases when they expire.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from access_bridge import reconciler as rc
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.devices.models import Device, DeviceCommand
from portal.emergency.models import EmergencyDevice


def claim(session, owner: str, lease: timedelta, max_devices: int | None, now: datetime) -> list[int]:
    """Renew our leases, take free or expired ones (up to max_devices in all) and return the devices we hold."""
    ids = list(session.scalars(select(Device.id).where(Device.status != "removed")))
    try:
        rc.ensure_rows(session, ids)
        session.commit()
    except IntegrityError:  # another worker created them at the same moment
        session.rollback()
    until = now + lease
    mine = BridgeDevice.lease_owner == owner
    session.execute(update(BridgeDevice).where(mine).values(lease_until=until))
    held = session.scalar(select(func.count()).select_from(BridgeDevice).where(mine)) or 0
    room = None if max_devices is None else max_devices - held
    if room is None or room > 0:
        free = (
            select(BridgeDevice.device_id)
            .where(or_(BridgeDevice.lease_owner.is_(None), BridgeDevice.lease_until < now), rc.among(BridgeDevice.device_id, ids))
            .order_by(BridgeDevice.device_id)
        )
        if room is not None:
            free = free.limit(room)
        # SKIP LOCKED: rows another worker is claiming right now are passed over, not waited for.
        free = free.with_for_update(skip_locked=True)
        session.execute(
            update(BridgeDevice)
            .where(BridgeDevice.device_id.in_(free))
            .values(lease_owner=owner, lease_until=until)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return list(
        session.scalars(
            select(BridgeDevice.device_id)
            .join(Device, Device.id == BridgeDevice.device_id)
            .where(mine, Device.status != "removed")
        )
    )


def release(session, owner: str) -> None:
    """Give up every lease we hold (the caller commits)."""
    session.execute(update(BridgeDevice).where(BridgeDevice.lease_owner == owner).values(lease_owner=None, lease_until=None))


def with_work(session, owner: str, busy, now: datetime) -> tuple[set[int], set[int]]:
    """Our devices not busy with a job that have something to do (due pushes, queued commands, a probe, a key audit,
    an emergency), and which of them have due pushes."""
    mine = and_(BridgeDevice.lease_owner == owner, rc.among(BridgeDevice.device_id, busy, negate=True))
    ids = set(
        session.scalars(
            select(DeviceCredential.device_id)
            .join(BridgeDevice, BridgeDevice.device_id == DeviceCredential.device_id)
            .where(mine, rc.due_filter(now))
            .distinct()
        )
    )
    due = set(ids)
    ids |= set(
        session.scalars(
            select(DeviceCommand.device_id)
            .join(BridgeDevice, BridgeDevice.device_id == DeviceCommand.device_id)
            .where(mine, DeviceCommand.status == "queued")
        )
    )
    ids |= set(
        session.scalars(
            select(BridgeDevice.device_id)
            .join(Device, Device.id == BridgeDevice.device_id)
            .where(mine, or_(BridgeDevice.audit_keys.is_(True), BridgeDevice.failures > 0, Device.status == "pending"))
        )
    )
    ids |= set(
        session.scalars(
            select(EmergencyDevice.device_id)
            .join(BridgeDevice, BridgeDevice.device_id == EmergencyDevice.device_id)
            .where(mine, EmergencyDevice.state == "pending")
        )
    )
    return ids, due
