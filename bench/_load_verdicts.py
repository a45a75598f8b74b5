"""The verdicts of bench/load_faults.py, from the client's samples and what the database and the doors hold."""

import collections
import json
import threading
import time
import uuid
from urllib.parse import urlsplit

from sqlalchemy import func, select

from bench._database import pct
from portal.devices.models import Device
from portal.extensions import db

# A revocation committed at C opens no gate after C + GATE_CACHE_STALE_MS (docs/gate.md, "The decision cache").
CACHE_BOUND = 0.25
OUTAGE = ("error",)


def _failed(s):
    """True when the caller saw no usable answer, or a fail-closed deny."""
    return s.status != 200 or s.body.get("reason") in OUTAGE


def wrong_grants(samples, load, expired):
    """Grants the portal must never give: revoked before the request (beyond the cache's bound), expired, unknown,
    or more entries than a limited pass has."""
    wrong, within_bound = [], 0
    expired, granted = set(expired), collections.Counter()
    for s in samples:
        if s.kind != "verify" or s.body.get("decision") != "grant":
            continue
        pid, revoked_at = s.meta["pass_id"], load.revoked.get(s.meta["pass_id"])
        granted[pid] += 1
        if granted[pid] > load.limited.get(pid, float("inf")):
            wrong.append({"pass_id": pid, "why": "entries_exceeded", "grant": granted[pid]})
        if pid in expired or pid >= 10_000_000:
            wrong.append({"pass_id": pid, "why": "expired" if pid in expired else "unknown", "sent": s.sent})
        elif revoked_at is not None and s.sent > revoked_at:
            if s.sent - revoked_at > CACHE_BOUND:
                wrong.append({"pass_id": pid, "why": "revoked", "after_s": round(s.sent - revoked_at, 3)})
            else:
                within_bound += 1
    return wrong, within_bound


def lost_events(app, samples, device_ids, since):
    """Answered decisions missing from access_events, compared per (reader, decision, reason)."""
    from portal.events.models import AccessEvent as E

    answered = collections.Counter(
        (device_ids[s.meta["reader"]], s.body["decision"], s.body["reason"])
        for s in samples
        if s.kind == "verify" and s.status == 200 and "decision" in s.body
    )
    with app.app_context():
        rows = db.session.execute(
            select(E.device_id, E.decision, E.reason, func.count())
            .where(E.device_id.in_(device_ids), E.at >= since, E.source == "api")
            .group_by(E.device_id, E.decision, E.reason)
        ).all()
        db.session.remove()
    recorded = collections.Counter({(d, dec, r): n for d, dec, r, n in rows})
    lost = {f"{k[0]}/{k[1]}/{k[2]}": n - recorded[k] for k, n in answered.items() if n > recorded[k]}
    extra = sum(max(0, n - answered[k]) for k, n in recorded.items())
    return {
        "answered": sum(answered.values()),
        "recorded": sum(recorded.values()),
        "lost": sum(lost.values()),
        "lost_by_reader_decision_reason": lost,
        "recorded_without_answer": extra,
    }


def revocations(app, load):
    """Per revoked pass: latency from its commit to the last door's acknowledged delete, and the rows not acknowledged.

    A door with no row for the pass never got it (revoked before the bridge planned it): nothing to take back.
    """
    from portal.bridge.models import DeviceCredential as DC
    from portal.passes.models import Pass

    latencies, unreached = [], {}
    with app.app_context():
        for pid in load.revoked:
            revoked_at = db.session.get(Pass, pid).revoked_at
            rows = db.session.execute(
                select(DC.desired, DC.status, DC.acked_version >= DC.desired_version, DC.acked_at)
                .join(Device, Device.id == DC.device_id)
                .where(DC.pass_id == pid, Device.driver == "mqtt")
            ).all()
            pending = [
                f"{d}/{st}/{'acked' if acked else 'unacked'}"
                for d, st, acked, _ in rows
                if not (d == "absent" and st == "ok" and acked)
            ]
            if pending:
                unreached[pid] = pending
            elif rows:
                latencies.append(max(at for *_, at in rows).timestamp() - revoked_at.timestamp())
        db.session.remove()
    return latencies, unreached


def door_tables(mqtt_url, prefix, count, timeout=20.0):
    """{door index: {user key, ...}} as each esp-rfid fake reports its own table (the ground truth)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parts = urlsplit(mqtt_url)
    nonce, tables, done = uuid.uuid4().hex, {}, threading.Event()

    def on_message(client, userdata, message):
        state = json.loads(message.payload)
        if state.get("nonce") == nonce:
            tables[int(message.topic.split("/")[-2])] = {u["user"] for u in state["users"].values()}
            if len(tables) >= count:
                done.set()

    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"lf-dump-{nonce[:6]}")
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect(parts.hostname, parts.port)
    client.loop_start()
    try:
        client.subscribe(f"{prefix}/+/state", qos=1)
        subscribed.wait(5)
        for i in range(count):
            client.publish(f"{prefix}/{i}/ctl", json.dumps({"cmd": "dump", "nonce": nonce}), qos=1)
        done.wait(timeout)
    finally:
        client.loop_stop()
        client.disconnect()
    return tables


def on_doors(tables, load, world):
    """Revoked passes still on a door, and live passes missing from a door of their building (by the doors' own tables)."""
    still, missing = [], 0
    for door, keys in tables.items():
        building = door % world.buildings
        still += [(door, pid) for pid in load.revoked if f"V{pid}" in keys]
        unlimited = (pid for pid, b in load.live.items() if b == building and pid not in load.limited)
        missing += sum(1 for pid in unlimited if f"V{pid}" not in keys)
    return {"doors_reporting": len(tables), "revoked_still_on_doors": len(still), "live_missing_on_doors": missing}, still


def rows_of(app, pairs):
    """The bridge's rows for (door index, pass id) pairs: what it believes each door holds."""
    from portal.bridge.models import DeviceCredential as DC

    out = []
    with app.app_context():
        for door, pid in pairs:
            rows = db.session.execute(
                select(DC.desired, DC.status, DC.acked_state, DC.desired_version, DC.acked_version, DC.last_error)
                .join(Device, Device.id == DC.device_id)
                .where(Device.name == f"door-{door}", DC.pass_id == pid)
            ).all()
            out.append({"door": door, "pass_id": pid, "rows": [list(r) for r in rows]})
        db.session.remove()
    return out


def windows(samples, faults, end, gap=1.0):
    """Per fault: how long decisions failed closed after it, and the failures by kind.

    The window runs from the first failed decision after the fault to the last one that follows the
    one before it within gap seconds; failures later than that (a slow answer on a loaded machine) are
    counted apart as stray.
    """
    verify = sorted((s for s in samples if s.kind == "verify"), key=lambda s: s.sent)
    out = []
    for i, fault in enumerate(faults):
        until = faults[i + 1]["at"] if i + 1 < len(faults) else end
        failed = [s for s in verify if fault["at"] <= s.sent < until and _failed(s)]
        run = failed[:1]
        for s in failed[1:]:
            if s.sent - run[-1].sent > gap:
                break
            run.append(s)
        span = (run[-1].sent + run[-1].latency - run[0].sent) if run else 0.0
        kinds = collections.Counter(s.body.get("reason") or s.body.get("error") or str(s.status) for s in failed)
        out.append(
            fault
            | {
                "failed_closed_s": round(span, 3),
                "failed_in_window": len(run),
                "failed_stray": len(failed) - len(run),
                "failures": dict(kinds),
                "first_failure_after_s": round(failed[0].sent - fault["at"], 3) if failed else None,
            }
        )
    return out


def outside_faults(samples, faults, margin=1.0):
    """Verify latencies of requests sent outside every fault window (from the fault to its recovery plus margin)."""
    spans = [(f["at"], f["at"] + max(f["failed_closed_s"], f["took_s"]) + margin) for f in faults]
    return [s.latency for s in samples if s.kind == "verify" and s.status == 200 and not any(a <= s.sent <= b for a, b in spans)]


def rates(samples, seconds):
    """Achieved rate of each stream: answered requests a second, and how many got no answer or an error."""
    out = {}
    for kind in ("verify", "create", "revoke"):
        mine = [s for s in samples if s.kind == kind]
        ok = [s for s in mine if s.status in (200, 201)]
        late = [s for s in mine if s.sent - s.due > 0.05]
        out[kind] = {
            "sent": len(mine),
            "answered_ok_per_s": round(len(ok) / seconds, 1),
            "sent_per_s": round(len(mine) / seconds, 1),
            "not_ok": len(mine) - len(ok),
            "sent_late_over_50ms": len(late),
        }
    return out


def ms(values, q):
    """The q-th percentile of seconds, in ms (None without samples)."""
    return round(pct(values, q) * 1000, 1) if values else None


def wait(predicate, timeout, every=0.5):
    """Poll predicate until it is true or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)
