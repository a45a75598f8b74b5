"""Recording what devices did: finished jobs, acknowledgements by generation, failures with backoff, device health, key audits.

Acknowledgements are written with a conditional update on the row's generation (desired_version), so an ack for
an older generation never marks a newer desired state done, and a revoked credential can never be marked present again.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, timedelta

from sqlalchemy import bindparam, select, text, update

from access_bridge import event_polls, state
from access_bridge.drivers.base import CredentialRejected, DeviceAuthFailed
from access_bridge.jobs import Op, Outcome
from access_bridge.sql import among
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.core.timeutil import utcnow
from portal.devices.models import DeviceCommand
from portal.emergency import operations as emergency_ops

log = logging.getLogger(__name__)
BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
OFFLINE_AFTER = 2  # consecutive unreachable attempts before a device shows as offline
LAST_SEEN_EVERY = timedelta(seconds=30)


def backoff(attempts: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> timedelta:
    """Capped exponential backoff with jitter (half to full of the step), so retries don't align."""
    step = min(cap, base * (2 ** max(attempts - 1, 0)))
    return timedelta(seconds=step * random.uniform(0.5, 1.0))


def record_acks(session, acks, now=None) -> int:
    """The devices acknowledged ops [(row id, generation, action)]; returns how many were the current desire.

    The device's own state (acked_state) is a fact whatever the generation, since ops on one
    device run in order; done-ness is set only where the generation and the desire still match.
    """
    if not acks:
        return 0
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        return _record_acks_pg(session, acks, now)
    tbl = DeviceCredential.__table__
    params = [{"rid": rid, "gen": gen, "held": "absent" if action == "revoke" else "present"} for rid, gen, action in acks]
    session.execute(update(tbl).where(tbl.c.id == bindparam("rid")).values(acked_state=bindparam("held")), params)
    done = session.execute(
        update(tbl)
        .where(tbl.c.id == bindparam("rid"), tbl.c.desired_version == bindparam("gen"), tbl.c.desired == bindparam("held"))
        .values(
            status="ok",
            acked_version=bindparam("gen"),
            acked_at=now,
            attempts=0,
            last_error=None,
            next_attempt_at=None,
            updated_at=now,
        ),
        params,
    )
    return done.rowcount


_ACKS_PG = text("""
UPDATE device_credentials AS d SET
  acked_state = v.held,
  status = CASE WHEN d.desired_version = v.gen AND d.desired = v.held THEN 'ok' ELSE d.status END,
  acked_version = CASE WHEN d.desired_version = v.gen AND d.desired = v.held THEN v.gen ELSE d.acked_version END,
  acked_at = CASE WHEN d.desired_version = v.gen AND d.desired = v.held THEN :now ELSE d.acked_at END,
  attempts = CASE WHEN d.desired_version = v.gen AND d.desired = v.held THEN 0 ELSE d.attempts END,
  last_error = CASE WHEN d.desired_version = v.gen AND d.desired = v.held THEN NULL ELSE d.last_error END,
  next_attempt_at = CASE WHEN d.desired_version = v.gen AND d.desired = v.held THEN NULL ELSE d.next_attempt_at END,
  updated_at = :now
FROM unnest(CAST(:ids AS integer[]), CAST(:gens AS integer[]), CAST(:held AS varchar[])) AS v(id, gen, held)
WHERE d.id = v.id
RETURNING d.desired_version = v.gen AND d.desired = v.held
""")


def _record_acks_pg(session, acks, now):
    # One statement for a whole batch: a thousand acks in one round trip.
    session.flush()
    naive = now.astimezone(UTC).replace(tzinfo=None)
    result = session.execute(
        _ACKS_PG,
        {
            "ids": [a[0] for a in acks],
            "gens": [a[1] for a in acks],
            "held": ["absent" if a[2] == "revoke" else "present" for a in acks],
            "now": naive,
        },
    )
    return sum(1 for (done,) in result if done)


def record_ack(session, row_id, gen, action, now=None) -> bool:
    """One acknowledgement; True when it was for the current desired state."""
    return record_acks(session, [(row_id, gen, action)], now) == 1


def record_failure(session, op: Op, exc, now=None):
    """A push failed: retry later with backoff, or wait for a human when the device rejected it for good."""
    now = now or utcnow()
    row = session.get(DeviceCredential, op.row_id)
    if row is None or row.desired_version != op.gen:
        return
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:200]
    row.status = "failed" if isinstance(exc, CredentialRejected) or row.attempts >= 3 else "pending"
    # A rejected credential won't be accepted as it is; a revocation is retried whatever happens.
    final = isinstance(exc, CredentialRejected) and row.desired == "present"
    row.next_attempt_at = None if final else now + backoff(row.attempts)


def device_reached(session, device, bd, now):
    """The device answered: online, backoff cleared; after a failure, re-check what it holds."""
    if bd.failures:
        bd.audit_keys = True
        session.execute(
            update(DeviceCredential)
            .where(DeviceCredential.device_id == device.id, DeviceCredential.status != "ok")
            .values(next_attempt_at=now)
        )
    bd.failures, bd.next_attempt_at, bd.last_error = 0, None, None
    if device.status not in ("removing", "removed", "online"):
        device.status = "online"
    # Written at most every LAST_SEEN_EVERY: a write per contact per device would swamp the database.
    if device.last_seen_at is None or now - device.last_seen_at > LAST_SEEN_EVERY:
        device.last_seen_at = now


def device_failed(session, device, bd, exc, now):
    """The device did not answer or refused us: back off, and show it as offline or failed."""
    bd.failures += 1
    bd.last_error = f"{type(exc).__name__}: {exc}"[:200]
    bd.next_attempt_at = now + backoff(bd.failures)
    if device.status in ("removing", "removed"):
        return
    if isinstance(exc, DeviceAuthFailed):
        device.status = "failed"
    elif bd.failures >= OFFLINE_AFTER:
        device.status = "offline"


def _bump(row, desired, now):
    row.desired = desired
    row.desired_version += 1
    row.status, row.attempts, row.last_error, row.next_attempt_at = "pending", 0, None, now


def audit_keys(session, held_by_device: dict[int, set], now):
    """Compare the keys devices listed with our rows: delete our strays, re-push what they lost."""
    all_rows: dict[int, dict[str, DeviceCredential]] = {}
    for r in session.scalars(select(DeviceCredential).where(among(DeviceCredential.device_id, held_by_device))):
        all_rows.setdefault(r.device_id, {})[r.key] = r
    for device_id, held in held_by_device.items():
        rows = all_rows.get(device_id, {})
        for key in held:
            if state.pass_id_of(key) is None:
                continue  # not ours (a resident's card, an installer's test user): never touch it
            row = rows.get(key)
            if row is None:
                session.add(
                    DeviceCredential(
                        device_id=device_id,
                        key=key,
                        pass_id=state.pass_id_of(key),
                        desired="absent",
                        desired_version=1,
                        acked_state="present",
                        status="pending",
                        next_attempt_at=now,
                    )
                )
            elif row.desired == "absent" and row.status == "ok":
                _bump(row, "absent", now)
        for key, row in rows.items():
            if row.desired == "present" and row.status == "ok" and key not in held:
                row.status, row.acked_state, row.next_attempt_at = "pending", None, now


def record_jobs(session, owner, devices, done, now) -> None:
    """Write what finished jobs did: done is [(device id, finished future of run_job)], devices their rows by id."""
    bds = {b.device_id: b for b in session.scalars(select(BridgeDevice).where(among(BridgeDevice.device_id, devices)))}
    acks: list[tuple[int, int, str]] = []
    audits: dict[int, set[str]] = {}
    released: list[tuple[int, str, str | None]] = []
    unanswered: list[int] = []
    for device_id, future in done:
        device, bd = devices.get(device_id), bds.get(device_id)
        if device is None or bd is None:
            continue
        if bd.lease_owner != owner:
            log.warning("lease on device %s lost while pushing; its results are left to the new owner", device_id)
            continue
        out = future.result()
        if out.emergency is not None:
            released.append(out.emergency)
        elif out.emergency_row is not None:
            unanswered.append(out.emergency_row)
        _record(session, device, bd, out, acks, audits, now)
    record_acks(session, acks, now)
    emergency_ops.record_device_results(session, released, now)
    emergency_ops.device_unreachable(session, unanswered)
    if audits:
        audit_keys(session, audits, now)


def _record(session, device, bd, out: Outcome, acks, audits, now):
    for op, exc in out.results:
        if exc is None:
            acks.append((op.row_id, op.gen, op.action))
        else:
            record_failure(session, op, exc, now)
    for cmd_id, error in out.commands:
        cmd = session.get(DeviceCommand, cmd_id)
        cmd.status, cmd.error, cmd.done_at = ("failed", error[:200], now) if error else ("done", None, now)
    if out.error is not None:
        device_failed(session, device, bd, out.error, now)
        return
    device_reached(session, device, bd, now)
    if out.audited:
        bd.audit_keys = False  # done, or the driver cannot list keys and there is nothing to check
    if out.keys is not None:
        audits[device.id] = out.keys
    if out.events:
        # A use that counts down a pass is written to the outbox with it, and re-planned from there.
        event_polls.record(session, device, out.events)
