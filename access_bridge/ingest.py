"""Events back: device events and the edge's offline decisions become AccessEvents, exactly once.

(docs/edge.md, "Events back", says how.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import or_, select, update

from portal.bridge.edge_models import DeviceEventCursor, EdgeReceipt
from portal.core import wake
from portal.core.timeutil import as_utc, utcnow
from portal.devices import drivers
from portal.devices.drivers import Capability
from portal.events.models import METHODS, REASONS, AccessEvent
from portal.events.operations import record_event
from portal.passes.models import Pass

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What one batch did."""

    inserted: int = 0
    duplicates: int = 0
    lost: list = field(default_factory=list)  # [(first serial, last serial), ...]


def _pass_id(session, device, key):
    """Pass id from our credential key "V<id>", only for a pass of the device's site."""
    if not key or not key.startswith("V") or not key[1:].isdigit():
        return None
    p = session.get(Pass, int(key[1:]))
    return p.id if p is not None and p.site_id == device.site_id else None


def _gate_of(device):
    return device.gate_ids[0] if device.gate_ids and len(device.gate_ids) == 1 else None


def edge_decided(device):
    """True for devices whose decisions the bridge makes itself (OSDP): their events are recorded by the edge."""
    return Capability.EDGE_DECISION in drivers.capabilities(device.driver)


def last_serial(session, device_id):
    """The highest serial ingested from a device (0 before the first batch)."""
    cursor = session.get(DeviceEventCursor, device_id)
    return cursor.last_serial if cursor is not None else 0


def ingest_events(session, device, events):
    """Write a batch of DeviceEvents as AccessEvents; idempotent, gaps reported as lost events.

    session is the portal's db.session (record_event writes through it); the caller commits.
    """
    result = IngestResult()
    batch = sorted({e.serial: e for e in events if e.serial is not None}.values(), key=lambda e: e.serial)
    if not batch:
        return result
    cursor = session.get(DeviceEventCursor, device.id)
    fresh = cursor is None
    if fresh:
        cursor = DeviceEventCursor(device_id=device.id, last_serial=0, ingested=0, lost=0)
        session.add(cursor)
    if edge_decided(device):
        # The EdgeDecider already recorded these decisions, with pass, gate and offline flags.
        cursor.last_serial = max(cursor.last_serial, batch[-1].serial)
        result.duplicates = len(batch)
        return result
    existing = set(
        session.scalars(
            select(AccessEvent.device_serial).where(
                AccessEvent.device_id == device.id, AccessEvent.device_serial.in_([e.serial for e in batch])
            )
        )
    )
    # Before the first batch we cannot know what came earlier, so no gap is reported there.
    expected = batch[0].serial if fresh else cursor.last_serial + 1
    gate_id = _gate_of(device)
    for e in batch:
        if e.serial in existing:
            result.duplicates += 1
            continue
        if e.serial > expected:
            _report_gap(device, gate_id, expected, e.serial - 1, e.at)
            result.lost.append((expected, e.serial - 1))
            cursor.lost += e.serial - expected
            cursor.last_gap_at = utcnow()
        elif e.serial <= cursor.last_serial and not fresh:
            cursor.lost = max(0, cursor.lost - 1)  # a late event filling an earlier gap
        reason = e.reason if e.reason in REASONS else "error"
        details = {"door": e.door} if e.door is not None else {}
        if reason != e.reason:
            details["device_reason"] = str(e.reason)[:40]
        record_event(
            at=as_utc(e.at) or utcnow(),
            site_id=device.site_id,
            gate_id=gate_id,
            device_id=device.id,
            device_serial=e.serial,
            method=e.method if e.method in METHODS else "card",
            pass_id=_pass_id(session, device, e.key),
            decision="grant" if e.decision == "grant" else "deny",
            reason=reason,
            direction=e.direction if e.direction in ("in", "out") else None,
            source="device",
            details=details,
        )
        result.inserted += 1
        expected = max(expected, e.serial + 1)
        cursor.last_serial = max(cursor.last_serial, e.serial)
    cursor.ingested += result.inserted
    return result


def _report_gap(device, gate_id, first, last, at):
    log.warning("device %s lost events: serials %d..%d", device.id, first, last)
    record_event(
        at=as_utc(at) or utcnow(),
        site_id=device.site_id,
        gate_id=gate_id,
        device_id=device.id,
        method="card",
        decision="deny",
        reason="error",
        source="device",
        details={"lost_events": [first, last], "count": last - first + 1},
    )


# -- the edge's offline journal ------------------------------------------------------
def report_journal(app, store, limit=500):
    """Report an edge store's offline decisions; returns counts. Idempotent across crashes and retries."""
    from portal.extensions import db

    rows = store.pending(limit)
    if not rows:
        return {"reported": 0, "skipped": 0, "double_uses": 0}
    counts = {"reported": 0, "skipped": 0, "double_uses": 0}
    with app.app_context():
        try:
            uids = [store.uid(r) for r in rows]
            done = set(db.session.scalars(select(EdgeReceipt.uid).where(EdgeReceipt.uid.in_(uids))))
            for row, uid in zip(rows, uids, strict=True):
                if uid in done:
                    counts["skipped"] += 1
                    continue
                event = _report_row(db.session, store, row)
                db.session.add(
                    EdgeReceipt(
                        uid=uid,
                        store_id=store.store_id,
                        event_id=event.id,
                        pass_id=event.pass_id,
                        double_use=bool(event.details.get("offline_double_use")),
                    )
                )
                counts["reported"] += 1
                counts["double_uses"] += int(bool(event.details.get("offline_double_use")))
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    store.mark_reported(rows)
    if counts["reported"]:
        log.info(
            "edge %s reported %d offline decisions (%d double uses)", store.store_id, counts["reported"], counts["double_uses"]
        )
    return counts


def _report_row(session, store, row):
    from portal.devices.models import Device
    from portal.sites.models import Gate

    at = datetime.fromtimestamp(row.at, UTC)
    p = session.get(Pass, row.pass_id) if row.pass_id is not None else None
    reason, details = row.reason, {"offline": True, "edge": store.store_id}
    if p is not None and row.decision == "grant":
        flag = _apply_use(session, p, row, at)
        if flag == "used_up":
            # Two edges admitted the same last entry while apart: the desk must hear of it.
            reason, details["offline_double_use"] = "used_up", True
            log.warning("offline double use of pass %d at gate %r", p.id, row.gate_id)
        elif flag == "revoked":
            reason, details["offline_after_revoke"] = "revoked", True
    return record_event(
        at=at,
        site_id=row.site_id,
        method=row.method,
        decision=row.decision,
        reason=reason,
        gate_id=row.gate_id if row.gate_id and session.get(Gate, row.gate_id) else None,
        device_id=row.device_id if row.device_id and session.get(Device, row.device_id) else None,
        pass_id=p.id if p is not None else None,
        direction=row.direction,
        source="bridge",
        details=details,
    )


def _apply_use(session, p, row, at):
    """Apply an offline grant to the pass; returns "used_up" past its limit, "revoked" after revocation."""
    flag = None
    if row.consumed:
        wake.note(session, "pass", p.id, p.site_id)  # the remaining uses on devices change
        room = or_(Pass.max_entries.is_(None), Pass.uses < Pass.max_entries)
        within = session.execute(
            update(Pass).where(Pass.id == p.id, room).values(uses=Pass.uses + 1).execution_options(synchronize_session=False)
        ).rowcount
        if not within:
            session.execute(
                update(Pass)
                .where(Pass.id == p.id)
                .values(uses=Pass.uses + 1, version=Pass.version + 1)
                .execution_options(synchronize_session=False)
            )
            flag = "used_up"
    if row.direction:
        session.execute(
            update(Pass).where(Pass.id == p.id).values(last_direction=row.direction).execution_options(synchronize_session=False)
        )
    if row.otp_step:
        session.execute(
            update(Pass)
            .where(Pass.id == p.id, Pass.otp_last_step < row.otp_step)
            .values(otp_last_step=row.otp_step)
            .execution_options(synchronize_session=False)
        )
    if flag is None and p.revoked_at is not None and as_utc(p.revoked_at) <= at:
        flag = "revoked"
    return flag
