"""Reconciliation: compare desired state with what each device acknowledged, and plan the pushes.

Planning runs on the worker's main thread. The job a device runs is access_bridge.jobs (no database), and what
comes back is written by access_bridge.outcomes; their names are re-exported here for callers of the whole cycle.
"""

from __future__ import annotations

import logging

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import defer

from access_bridge import state
from access_bridge.drivers.base import Credential
from access_bridge.jobs import Job, Op, Outcome, run_job
from access_bridge.outcomes import (
    BACKOFF_CAP,
    audit_keys,
    backoff,
    device_failed,
    device_reached,
    record_ack,
    record_acks,
    record_failure,
)
from access_bridge.sql import among
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.core.timeutil import utcnow
from portal.devices.models import Device

__all__ = [
    "BACKOFF_CAP",
    "Job",
    "Op",
    "Outcome",
    "among",
    "audit_keys",
    "backoff",
    "device_failed",
    "device_reached",
    "devices_by_id",
    "due_filter",
    "due_ops",
    "ensure_rows",
    "finish_removals",
    "plan",
    "record_ack",
    "record_acks",
    "record_failure",
    "run_job",
]
log = logging.getLogger(__name__)
MAX_OPS_PER_JOB = 500


def ensure_rows(session, device_ids):
    """Create the bridge's working row for devices that have none yet."""
    have = set(session.scalars(select(BridgeDevice.device_id).where(among(BridgeDevice.device_id, device_ids))))
    missing = [i for i in device_ids if i not in have]
    if missing:
        session.add_all(BridgeDevice(device_id=i) for i in missing)
        session.flush()


def plan(session, devices, now=None, pass_ids=None, vehicle_ids=None, holders=None) -> dict[int, dict[str, Credential]]:
    """Bring the rows of these devices in line with the desired state; returns the desired state.

    With pass_ids or vehicle_ids, only those passes and residents' cars are looked at, and only their rows
    are touched (incremental planning after a change); without either, everything is (a full plan).
    holders (device id -> device), when scoped: devices beyond `devices` whose rows of these passes and
    cars are re-planned too, wherever they are (a deleted pass leaves every device that holds it).
    """
    now = now or utcnow()
    scoped = pass_ids is not None or vehicle_ids is not None
    tbl = DeviceCredential.__table__
    cols = (tbl.c.id, tbl.c.device_id, tbl.c.key, tbl.c.desired, tbl.c.fingerprint)
    if scoped:
        pass_ids, vehicle_ids = set(pass_ids or ()), set(vehicle_ids or ())
        in_scope = []
        if pass_ids:
            in_scope.append(among(tbl.c.pass_id, pass_ids))
        if vehicle_ids:
            in_scope.append(among(tbl.c.key, [state.vehicle_key(i) for i in vehicle_ids]))
        if not in_scope:
            return {}
        # Few rows: present and absent ones in one query (an absent row may be wanted again).
        ids = {d.id for d in devices} | set(holders or ())
        rows = {
            (r.device_id, r.key): r for r in session.execute(select(*cols).where(among(tbl.c.device_id, ids), or_(*in_scope)))
        }
        listed = {d.id for d in devices}
        devices = list(devices) + [holders[i] for i in {i for i, _ in rows} - listed if holders and i in holders]
    devices = [d for d in devices if d.status != "removed"]
    serving = [d for d in devices if d.status != "removing"]
    desired = state.desired_for_devices(session, serving, now, pass_ids, vehicle_ids)
    for d in devices:
        desired.setdefault(d.id, {})
    ids = {d.id for d in devices}
    if scoped:
        rows = {k: r for k, r in rows.items() if r.device_id in ids}
        wanted_again = set()
    else:
        # Rows already desired absent are settled history; only load them for keys wanted again.
        q = select(*cols).where(among(tbl.c.device_id, ids), tbl.c.desired == "present")
        rows = {(r.device_id, r.key): r for r in session.execute(q)}
        wanted_again = {key for device_id, table in desired.items() for key in table if (device_id, key) not in rows}
    if wanted_again:
        for r in session.execute(
            select(*cols).where(among(tbl.c.device_id, ids), among(tbl.c.key, wanted_again), tbl.c.desired == "absent")
        ):
            rows[(r.device_id, r.key)] = r
    new, to_present = [], []
    prints: dict[int, str] = {}  # devices alike share credential objects: hash each once
    for device_id, table in desired.items():
        for key, cred in table.items():
            fp = prints.get(id(cred))
            if fp is None:
                fp = prints[id(cred)] = state.fingerprint(cred)
            row = rows.pop((device_id, key), None)
            if row is None:
                new.append(
                    dict(
                        device_id=device_id,
                        key=key,
                        pass_id=cred.pass_id or None,
                        pass_version=cred.version,
                        desired="present",
                        desired_version=1,
                        acked_version=0,
                        fingerprint=fp,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        updated_at=now,
                    )
                )
            elif row.desired != "present" or row.fingerprint != fp:
                to_present.append({"rid": row.id, "fp": fp, "pv": cred.version})
    # Whatever is left was desired once and is no longer: revoked, expired, used up or moved.
    to_absent = [row.id for row in rows.values() if row.desired == "present"]
    session.flush()
    bump = dict(
        desired_version=tbl.c.desired_version + 1,
        status="pending",
        attempts=0,
        last_error=None,
        next_attempt_at=now,
        updated_at=now,
    )
    if to_absent:
        session.execute(
            update(tbl)
            .where(among(tbl.c.id, to_absent), tbl.c.desired == "present")
            .values(desired="absent", fingerprint=None, **bump)
        )
    if to_present:
        session.execute(
            update(tbl)
            .where(tbl.c.id == bindparam("rid"))
            .values(desired="present", fingerprint=bindparam("fp"), pass_version=bindparam("pv"), **bump),
            to_present,
        )
    if new:
        # Small pages keep each INSERT's text short enough for the driver to cache its parsing.
        session.execute(insert(tbl).execution_options(insertmanyvalues_page_size=50), new)
    return desired


def due_ops(session, devices, desired, now, limit=MAX_OPS_PER_JOB) -> dict[int, list[Op]]:
    """device id -> pushes due now, revocations first; upserts only for keys desired at this moment.

    desired may cover only some passes (after a wake-up); what a due upsert needs beyond it is
    computed here, from the database as it is now, so a pass revoked meanwhile is not pushed.
    """
    rows = session.execute(
        select(
            DeviceCredential.id,
            DeviceCredential.device_id,
            DeviceCredential.key,
            DeviceCredential.desired,
            DeviceCredential.desired_version,
        )
        .where(among(DeviceCredential.device_id, devices), due_filter(now))
        .order_by(DeviceCredential.device_id, (DeviceCredential.desired == "present").asc(), DeviceCredential.id)
    ).all()
    desired = dict(desired or {})
    need = {(d, k) for _, d, k, want, _ in rows if want == "present" and k not in desired.get(d, {})}
    if need:
        extra = state.desired_for_devices(
            session,
            [devices[d] for d in {d for d, _ in need}],
            now,
            {state.pass_id_of(k) for _, k in need} - {None},
            {state.vehicle_id_of(k) for _, k in need} - {None},
        )
        for device_id, table in extra.items():
            desired[device_id] = {**desired.get(device_id, {}), **table}
    out: dict[int, list[Op]] = {}
    for row_id, device_id, key, want, gen in rows:
        ops = out.setdefault(device_id, [])
        if len(ops) >= limit:
            continue
        if want == "absent":
            ops.append(Op(row_id, gen, key, "revoke"))
        elif key in desired.get(device_id, {}):
            ops.append(Op(row_id, gen, key, "upsert", desired[device_id][key]))
    return out


def finish_removals(session, devices, now):
    """A device being removed is marked removed once every credential on it is acknowledged gone."""
    for d in devices:
        if d.status != "removing":
            continue
        left = session.scalar(
            select(DeviceCredential.id)
            .where(
                DeviceCredential.device_id == d.id, or_(DeviceCredential.desired == "present", DeviceCredential.status != "ok")
            )
            .limit(1)
        )
        if left is None:
            d.status = "removed"
            log.info("device %s wiped and removed", d.id)


def due_filter(now):
    """SQL condition for rows that should be pushed now."""
    return and_(DeviceCredential.status != "ok", DeviceCredential.next_attempt_at <= now)


def devices_by_id(session, ids, with_options=False):
    """Device rows for ids; options (encrypted) load only when asked or when a driver needs them."""
    if not ids:
        return {}
    q = select(Device).where(among(Device.id, ids))
    if not with_options:
        q = q.options(defer(Device.options))
    return {d.id: d for d in session.scalars(q)}
