"""One device's job, run on a pool thread: commands, revocations, additions, a key audit, events.

Driver calls happen here, with no database access; the worker's main thread plans the job and records its Outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from access_bridge.drivers.base import Credential, DeviceAuthFailed, DeviceUnreachable, DriverError
from portal.devices.drivers import HEALTH

log = logging.getLogger(__name__)


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
    emergency: tuple[int, str] | None = None  # (emergency_devices row id, release | restore)


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
    emergency_row: int | None = None  # the release/restore row this job carried
    emergency: tuple | None = None  # (row id, mode, error text or None) once the device answered


def run_job(driver, job: Job) -> Outcome:
    """Carry out a job against a driver; stops at the first sign the device is unreachable."""
    out = Outcome(job.device_id)
    try:
        checked = _run_checks(driver, job, out)
        if job.probe and not checked and not driver.health():
            raise DeviceUnreachable("device did not answer the health check")
        if job.emergency is not None:  # before anything else: people may be waiting at a locked door
            _emergency(driver, job.emergency, out)
        for cmd_id, kind, door, reason in job.commands:
            if kind == HEALTH:
                continue
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


def _run_checks(driver, job, out) -> bool:
    """Managers' connection tests: one health check answers them all; True when it passed.

    A failure is recorded with its kind ("auth_failed: …", "unreachable: …") and raised, so the device backs off as
    after any failed contact.
    """
    ids = [cmd_id for cmd_id, kind, _door, _reason in job.commands if kind == HEALTH]
    if not ids:
        return False
    try:
        driver.check()
    except DeviceAuthFailed as exc:
        out.commands.extend((i, f"auth_failed: {exc}") for i in ids)
        raise
    except DeviceUnreachable as exc:
        out.commands.extend((i, f"unreachable: {exc}") for i in ids)
        raise
    except Exception as exc:  # a bug or an odd answer is still an answer the manager should see
        out.commands.extend((i, f"error: {type(exc).__name__}: {exc}") for i in ids)
        raise
    out.commands.extend((i, None) for i in ids)
    return True


def _emergency(driver, due, out):
    """Release or restore; a device that cannot is failed for good, one that does not answer is retried."""
    row_id, mode = due
    out.emergency_row = row_id
    try:
        driver.emergency(mode)
        out.emergency = (row_id, mode, None)
    except (DeviceUnreachable, DeviceAuthFailed):
        raise
    except DriverError as exc:
        out.emergency = (row_id, mode, str(exc) or type(exc).__name__)


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
    for _op, error in results:
        if isinstance(error, (DeviceUnreachable, DeviceAuthFailed)):
            raise error
