"""Reconciliation: compare desired state with what each device acknowledged, and plan the pushes.

Database work happens on the worker's main thread; driver calls happen in run_job(), on a
pool thread, with no database access. Acknowledgements are written with a conditional update
on the row's generation (desired_version), so an ack for an older generation never marks a
newer desired state done, and a revoked credential can never be marked present again.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import timedelta, timezone

from flask import has_app_context
from sqlalchemy import Boolean, Integer, String, all_, and_, any_, bindparam, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import defer
from sqlalchemy.sql.expression import ColumnElement

from access_bridge import state
from access_bridge.drivers.base import Credential, CredentialRejected, DeviceAuthFailed, DeviceUnreachable, DriverError
from portal.bridge.models import BridgeDevice, DeviceCredential
from portal.core.timeutil import utcnow
from portal.devices.models import Device
from portal.extensions import db

log = logging.getLogger(__name__)
BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
OFFLINE_AFTER = 2  # consecutive unreachable attempts before a device shows as offline
MAX_OPS_PER_JOB = 500
LAST_SEEN_EVERY = timedelta(seconds=30)


def among(column, values, negate=False):
    """column IN values; on PostgreSQL `= ANY(array)` with one parameter (a 1,000-item IN list is slow to send).

    Elsewhere (SQLite) a plain expanding IN, which SQLAlchemy compiles once and caches: the PostgreSQL form
    cannot be cached, and compiling every statement anew was a third of a wake-up's latency on SQLite.
    """
    if has_app_context() and db.engine.dialect.name != "postgresql":
        values = list(values)
        return column.not_in(values) if negate else column.in_(values)
    return _Among(column, values, negate)


class _Among(ColumnElement):
    """The uncacheable form of among(): its bound array is made at compile time."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, column, values, negate=False):
        self.column, self.values, self.negate = column, list(values), negate


@compiles(_Among)
def _among_default(element, compiler, **kw):
    col = element.column
    return compiler.process(col.not_in(element.values) if element.negate else col.in_(element.values), **kw)


@compiles(_Among, "postgresql")
def _among_pg(element, compiler, **kw):
    kind = String if element.values and isinstance(element.values[0], str) else Integer
    array = bindparam(None, element.values, type_=ARRAY(kind))
    expr = element.column != all_(array) if element.negate else element.column == any_(array)
    return compiler.process(expr, **kw)


def backoff(attempts: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> timedelta:
    """Capped exponential backoff with jitter (half to full of the step), so retries don't align."""
    step = min(cap, base * (2 ** max(attempts - 1, 0)))
    return timedelta(seconds=step * random.uniform(0.5, 1.0))


@dataclass
class Op:
    """One push: revoke or upsert a key for the row's generation."""

    row_id: int
    gen: int
    key: str
    action: str  # upsert | revoke
    cred: Credential | None = None


@dataclass
class Job:
    """Everything one device should do in one go, in order: commands, revocations, additions."""

    device_id: int
    probe: bool = False
    commands: list = field(default_factory=list)  # (command id, kind, door, reason)
    ops: list[Op] = field(default_factory=list)
    audit_keys: bool = False
    desired_keys: set = field(default_factory=set)
    acked_present: set = field(default_factory=set)
    event_after: int | None = None


@dataclass
class Outcome:
    """What happened on the device; written back by the main thread."""

    device_id: int
    error: Exception | None = None
    results: list = field(default_factory=list)  # (Op, exception or None)
    commands: list = field(default_factory=list)  # (command id, error text or None)
    audited: bool = False
    keys: set | None = None
    events: list = field(default_factory=list)


def run_job(driver, job: Job) -> Outcome:
    """Carry out a job against a driver; stops at the first sign the device is unreachable."""
    out = Outcome(job.device_id)
    try:
        if job.probe and not driver.health():
            raise DeviceUnreachable("device did not answer the health check")
        for cmd_id, kind, door, reason in job.commands:
            try:
                driver.command(kind, door, reason)
                out.commands.append((cmd_id, None))
            except (DeviceUnreachable, DeviceAuthFailed) as exc:
                out.commands.append((cmd_id, str(exc)))
                raise
            except DriverError as exc:
                out.commands.append((cmd_id, str(exc)))
        revokes = [op for op in job.ops if op.action == "revoke"]
        upserts = [op for op in job.ops if op.action == "upsert"]
        for batch in (revokes, upserts):  # revocations first, always
            if batch:
                _push(driver, batch, out)
        if job.audit_keys:
            out.keys = driver.keys()
            out.audited = True
        if job.event_after is not None:
            out.events = driver.events(job.event_after)
    except DriverError as exc:
        out.error = exc
    except Exception as exc:  # a driver bug must not kill the worker; treat it as a transport failure
        log.exception("driver %r failed on device %s", type(driver).__name__, job.device_id)
        out.error = DeviceUnreachable(f"driver error: {type(exc).__name__}: {exc}"[:200])
    return out


def _push(driver, ops, out):
    """Push ops of one kind, in one batch when the driver offers it; stop when the device is gone."""
    action = ops[0].action
    many = getattr(driver, f"{action}_many", None)
    if many is not None:
        errors = many([op.key for op in ops] if action == "revoke" else [op.cred for op in ops])
        results = [(op, errors.get(op.key)) for op in ops]
    else:
        results = []
        for op in ops:
            try:
                driver.revoke(op.key) if action == "revoke" else driver.upsert(op.cred)
                results.append((op, None))
            except (DeviceUnreachable, DeviceAuthFailed) as exc:
                results.append((op, exc))
                break
            except DriverError as exc:
                results.append((op, exc))
    out.results.extend(results)
    for _op, exc in results:
        if isinstance(exc, (DeviceUnreachable, DeviceAuthFailed)):
            raise exc


def ensure_rows(session, device_ids):
    """Create the bridge's working row for devices that have none yet."""
    have = set(session.scalars(select(BridgeDevice.device_id).where(among(BridgeDevice.device_id, device_ids))))
    missing = [i for i in device_ids if i not in have]
    if missing:
        session.add_all(BridgeDevice(device_id=i) for i in missing)
        session.flush()


def plan(session, devices, now=None, pass_ids=None) -> dict[int, dict[str, Credential]]:
    """Bring the rows of these devices in line with the desired state; returns the desired state.

    With pass_ids, only those passes are looked at (a wake-up after a few passes changed);
    without, everything is (periodically, and when devices changed).
    """
    now = now or utcnow()
    devices = [d for d in devices if d.status != "removed"]
    serving = [d for d in devices if d.status != "removing"]
    desired = state.desired_for_devices(session, serving, now, pass_ids)
    for d in devices:
        desired.setdefault(d.id, {})
    ids = [d.id for d in devices]
    tbl = DeviceCredential.__table__
    cols = (tbl.c.id, tbl.c.device_id, tbl.c.key, tbl.c.desired, tbl.c.fingerprint)
    # Rows already desired absent are settled history; only load them for keys wanted again.
    q = select(*cols).where(among(tbl.c.device_id, ids), tbl.c.desired == "present")
    if pass_ids is not None:
        q = q.where(among(tbl.c.pass_id, pass_ids))
    rows = {(r.device_id, r.key): r for r in session.execute(q)}
    wanted_again = {key for device_id, table in desired.items() for key in table if (device_id, key) not in rows}
    if wanted_again:
        for r in session.execute(select(*cols).where(among(tbl.c.device_id, ids), among(tbl.c.key, wanted_again),
                                                     tbl.c.desired == "absent")):
            rows[(r.device_id, r.key)] = r
    new, to_present = [], []
    for device_id, table in desired.items():
        for key, cred in table.items():
            fp = state.fingerprint(cred)
            row = rows.pop((device_id, key), None)
            if row is None:
                new.append(dict(device_id=device_id, key=key, pass_id=cred.pass_id, pass_version=cred.version,
                                desired="present", desired_version=1, acked_version=0, fingerprint=fp,
                                status="pending", attempts=0, next_attempt_at=now, updated_at=now))
            elif row.desired != "present" or row.fingerprint != fp:
                to_present.append({"rid": row.id, "fp": fp, "pv": cred.version})
    # Whatever is left was desired once and is no longer: revoked, expired, used up or moved.
    to_absent = [row.id for row in rows.values() if row.desired == "present"]
    session.flush()
    bump = dict(desired_version=tbl.c.desired_version + 1, status="pending", attempts=0, last_error=None,
                next_attempt_at=now, updated_at=now)
    if to_absent:
        session.execute(update(tbl).where(among(tbl.c.id, to_absent), tbl.c.desired == "present")
                        .values(desired="absent", fingerprint=None, **bump))
    if to_present:
        session.execute(update(tbl).where(tbl.c.id == bindparam("rid"))
                        .values(desired="present", fingerprint=bindparam("fp"), pass_version=bindparam("pv"), **bump),
                        to_present)
    if new:
        # Small pages keep each INSERT's text short enough for the driver to cache its parsing.
        session.execute(insert(tbl).execution_options(insertmanyvalues_page_size=50), new)
    return desired


def _bump(row, desired, now):
    row.desired = desired
    row.desired_version += 1
    row.status, row.attempts, row.last_error, row.next_attempt_at = "pending", 0, None, now


def due_ops(session, devices, desired, now, limit=MAX_OPS_PER_JOB) -> dict[int, list[Op]]:
    """device id -> pushes due now, revocations first; upserts only for keys desired at this moment.

    desired may cover only some passes (after a wake-up); what a due upsert needs beyond it is
    computed here, from the database as it is now, so a pass revoked meanwhile is not pushed.
    """
    rows = session.execute(
        select(DeviceCredential.id, DeviceCredential.device_id, DeviceCredential.key, DeviceCredential.desired,
               DeviceCredential.desired_version)
        .where(among(DeviceCredential.device_id, devices), due_filter(now))
        .order_by(DeviceCredential.device_id, (DeviceCredential.desired == "present").asc(), DeviceCredential.id)).all()
    desired = dict(desired or {})
    need = {(d, k) for _, d, k, want, _ in rows if want == "present" and k not in desired.get(d, {})}
    if need:
        extra = state.desired_for_devices(session, [devices[d] for d in {d for d, _ in need}], now,
                                          {state.pass_id_of(k) for _, k in need})
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
        update(tbl).where(tbl.c.id == bindparam("rid"), tbl.c.desired_version == bindparam("gen"),
                          tbl.c.desired == bindparam("held"))
        .values(status="ok", acked_version=bindparam("gen"), acked_at=now, attempts=0, last_error=None,
                next_attempt_at=None, updated_at=now), params)
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
    naive = now.astimezone(timezone.utc).replace(tzinfo=None)
    result = session.execute(_ACKS_PG, {"ids": [a[0] for a in acks], "gens": [a[1] for a in acks],
                                        "held": ["absent" if a[2] == "revoke" else "present" for a in acks],
                                        "now": naive})
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
        session.execute(update(DeviceCredential).where(DeviceCredential.device_id == device.id,
                                                       DeviceCredential.status != "ok")
                        .values(next_attempt_at=now))
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


def audit_keys(session, held_by_device: dict[int, set], now):
    """Compare the keys devices listed with our rows: delete our strays, re-push what they lost."""
    all_rows = {}
    for r in session.scalars(select(DeviceCredential).where(among(DeviceCredential.device_id, held_by_device))):
        all_rows.setdefault(r.device_id, {})[r.key] = r
    for device_id, held in held_by_device.items():
        rows = all_rows.get(device_id, {})
        for key in held:
            if state.pass_id_of(key) is None:
                continue  # not ours (a resident's card, an installer's test user): never touch it
            row = rows.get(key)
            if row is None:
                session.add(DeviceCredential(device_id=device_id, key=key, pass_id=state.pass_id_of(key),
                                             desired="absent", desired_version=1, acked_state="present",
                                             status="pending", next_attempt_at=now))
            elif row.desired == "absent" and row.status == "ok":
                _bump(row, "absent", now)
        for key, row in rows.items():
            if row.desired == "present" and row.status == "ok" and key not in held:
                row.status, row.acked_state, row.next_attempt_at = "pending", None, now


def finish_removals(session, devices, now):
    """A device being removed is marked removed once every credential on it is acknowledged gone."""
    for d in devices:
        if d.status != "removing":
            continue
        left = session.scalar(select(DeviceCredential.id).where(
            DeviceCredential.device_id == d.id,
            or_(DeviceCredential.desired == "present", DeviceCredential.status != "ok")).limit(1))
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
