"""Schemathesis against the app's own OpenAPI document: odd or malformed input never gets a 5xx.

Every operation is fuzzed in process (the WSGI app, no server) as each kind of caller it lets in, first
with requests that fit the schema, aimed at real objects, then with malformed ones. Any answer of 500 or
more fails, and so does a 4xx without the JSON error body, a refused request that changed stored rows,
or a gate grant. Derandomized and bounded: the same cases on every run, FUZZ_EXAMPLES per strategy (2 in
`make test`, 20 in `make fuzz`, which CI runs after it).

SQLite binds any 64-bit integer; PostgreSQL refuses one beyond 32 bits for an INTEGER column, and that
is a 500. The fuzzed app refuses such binds the same way, so the cases that would fail there fail here.
"""

import hashlib
import io
import json
import os

import patrol_support
import pytest
import schemathesis
from db_snapshot import Snapshot
from desk_support import event as access_event
from feedback_support import file_multipart, png_bytes
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from permits_support import application
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy import BigInteger, Integer, event

from portal.accounts.operations import create_user
from portal.core.converters import MAX_ID
from portal.desk.operations import open_exception
from portal.events.journal import journal
from portal.extensions import db
from portal.feedback import operations as feedback_ops

BASE = "http://portal.test"
# The suite's budget: 2 cases take 28 s of CPU over the six shards, 5 took 43 s; `make fuzz` hunts longer.
# At least 2, since malformed ids get half of it.
EXAMPLES = max(2, int(os.environ.get("FUZZ_EXAMPLES", 2)))
SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=EXAMPLES,
    print_blob=False,
    phases=[Phase.generate],  # no shrinking: problems are collected, not raised
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
# Server-sent events: the answer never ends, so there is nothing to check (tests/test_desk_feed.py covers it).
SKIP = {("GET", "/api/v1/desk/stream")}
# Rows a refused request must leave exactly as they were.
KEPT = (
    "sites",
    "buildings",
    "units",
    "gates",
    "residencies",
    "passes",
    "messages",
    "devices",
    "device_commands",
    "watchlist",
    "walk_ins",
    "item_movements",
    "desk_exceptions",
    "desk_shifts",
    "complaints",
    "complaint_messages",
    "surveys",
    "feedback_follow_ups",
    "patrol_checkpoints",
    "patrol_routes",
    "patrol_rounds",
    "patrol_scans",
    "patrol_hazards",
    "site_retention",
)


def _seed(client, world):
    """One of everything an id in a path can name, so fuzzed bodies reach real objects; returns the path values."""
    from portal.alarms.operations import raise_alarm
    from portal.devices.models import Device
    from portal.emergency import operations as emergency_ops
    from portal.emergency.models import RollCallEntry

    r1, guard, manager = (world.token(u) for u in (world.r1, world.guard, world.manager))
    p = world.make_pass(plate="沪B54321", visitor_phone="+8613812345678")
    dev = client.post(
        "/api/v1/devices", json={"name": "lobby", "kind": "door_controller", "driver": "simulator"}, headers=manager
    ).get_json()
    tok = client.post(f"/api/v1/devices/{dev['id']}/tokens", json={}, headers=manager).get_json()
    check = client.post(f"/api/v1/devices/{dev['id']}/check", headers=manager).get_json()
    c = file_multipart(client, r1, [("door.png", png_bytes())]).get_json()
    done = client.post("/api/v1/complaints", json={"category": "noise", "description": "电梯异响"}, headers=r1).get_json()
    client.post(f"/api/v1/complaints/{done['id']}/resolve", json={"body": "已修好"}, headers=manager)
    task = client.get("/api/v1/follow-ups", headers=manager).get_json()["items"][0]
    w = client.post("/api/v1/desk/walk-ins", json={"name": "快递员", "unit_id": world.unit_a.id}, headers=guard).get_json()
    item = client.post(
        "/api/v1/desk/items", json={"unit_id": world.unit_a.id, "direction": "out", "description": "沙发"}, headers=guard
    ).get_json()
    entry = client.post(
        "/api/v1/watchlist", json={"kind": "plate", "plate": "京C99999", "reason": "闹事"}, headers=manager
    ).get_json()
    access_event(world, decision="deny", reason="revoked", pass_id=p.id)
    x = open_exception(world.site.id, "denied", "fuzz", reason="revoked")
    survey = feedback_ops.create_survey(world.r1, world.site.id, "visit", pass_=p)
    car = client.post("/api/v1/vehicles", json={"plate": "沪A12345", "unit_id": world.unit_a.id}, headers=r1).get_json()
    member = create_user("guard9", world.PASSWORD, "guard", "夜班保安", site=world.site)
    incident = client.post(
        "/api/v1/incidents",
        json={"kind": "water_leak", "location": "B2车库", "description": "漏水", "severity": "high"},
        headers=guard,
    ).get_json()
    client.post("/api/v1/desk/shift/start", headers=guard)
    shift = client.post("/api/v1/desk/shift/end", json={"notes": "交接"}, headers=guard).get_json()
    newcomer = client.post(
        f"/api/v1/units/{world.unit_a.id}/residents",
        json={"name": "新住户", "phone": "13912340001", "relation": "family", "move_in": "2026-01-02"},
        headers=manager,
    ).get_json()
    permit = client.post(
        "/api/v1/permits",
        data={
            **{k: v for k, v in application(world).items() if k != "workers"},
            "workers": json.dumps(application(world)["workers"]),
        }
        | {"plates": "[]", "licence": (io.BytesIO(png_bytes()), "licence.png")},
        headers=r1,
        content_type="multipart/form-data",
    ).get_json()
    freight = client.post(
        "/api/v1/freight",
        json={
            "plate": "京D12345",
            "company": "物流",
            "purpose": "搬家",
            "valid_from": "2030-01-01T08:00:00+08:00",
            "valid_until": "2030-01-01T12:00:00+08:00",
        },
        headers=manager,
    ).get_json()
    alarm = raise_alarm(db.session.get(Device, dev["id"]), "door_forced")
    drill = emergency_ops.start(world.site, world.guard, "drill", "fuzz")
    person = RollCallEntry(emergency_id=drill.id, pass_id=p.id, visitor_name="访客", pass_kind="guest")
    db.session.add(person)
    db.session.commit()
    _, patrol_route, _ = patrol_support.route(world)
    walk = patrol_support.start(client, guard, patrol_route.id)
    hazard = client.post("/api/v1/patrol/hazards", json={"id": "fuzz-hazard-1", "description": "井盖松动"}, headers=guard)
    return {
        "incident_id": incident["id"],
        "shift_id": shift["id"],
        "permit_id": permit["id"],
        "document_id": permit["documents"][0]["id"],
        "freight_id": freight["id"],
        "round_id": walk["id"],
        "hazard_id": hazard.get_json()["id"],
        "alarm_id": alarm.id,
        "person_id": person.id,
        "vehicle_id": car["id"],
        "user_id": member.id,
        "pass_id": p.id,
        "device_id": dev["id"],
        "token_id": tok["id"],
        "check_id": check["id"],
        "complaint_id": c["id"],
        "photo_id": c["photos"][0]["id"],
        "task_id": task["id"],
        "walk_in_id": w["id"],
        "item_id": item["id"],
        "entry_id": entry["id"],
        "exc_id": x.id,
        "residency_id": world.r2.current_residencies()[0].id,
        "resident_id": newcomer["user_id"],
        "slug": world.site.slug,
        "building_id": world.bldg_b.id,
        "unit_id": world.unit_b.id,
        "gate_id": world.car_gate.id,
        "token": survey.token,
    }


def _callers(client, op, headers):
    """The callers an operation lets in; a probe at an id that does not exist tells a role refusal apart."""
    security = op.definition.raw.get("security")
    if security == []:
        return {"anonymous": {}}
    if {"deviceToken": []} in security:
        return {"device": headers["device"]}
    path = op.path
    for param in op.path_parameters:
        path = path.replace(f"{{{param.name}}}", str(MAX_ID))
    allowed = {}
    for role in ("resident", "guard", "manager", "admin"):
        resp = client.open(path, method=op.method.upper(), headers=headers[role])
        if not (resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"):
            allowed[role] = headers[role]
    return allowed


class IntegerOutOfRange(Exception):
    """What PostgreSQL answers to an INTEGER parameter beyond 32 bits (not OverflowError: that one is a 400)."""


def _bind_like_postgresql(engine):
    """Fail a statement that binds to an INTEGER an int PostgreSQL could not hold, as psycopg's ::INTEGER cast would."""

    @event.listens_for(engine, "before_cursor_execute")
    def check(conn, cursor, statement, parameters, context, executemany):
        compiled = context.compiled
        for params in (context.compiled_parameters or []) if compiled is not None else []:
            for name, value in params.items():
                bind = compiled.binds.get(name)
                if (
                    bind is not None
                    and isinstance(bind.type, Integer)
                    and not isinstance(bind.type, BigInteger)
                    and isinstance(value, int)
                    and not -MAX_ID - 1 <= value <= MAX_ID
                ):
                    raise IntegerOutOfRange(f"{name}={value}")


def _digest():
    """A hash of the rows a refused request must not touch.

    Read on the SQLite connection itself: through the session the 24 queries cost ten times as much, and the
    fuzz takes this after every refusal.
    """
    h = hashlib.sha256()
    cursor = db.session.connection().connection.driver_connection.cursor()
    for table in KEPT:
        h.update(repr(cursor.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()).encode())  # noqa: S608 - fixed names
    cursor.close()
    db.session.rollback()
    return h.hexdigest()


def _not_a_json_error(response):
    """Why a 4xx answer lacks the project's JSON error body, or None."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json() if response.headers.get("content-type", [""])[0].startswith("application/json") else None
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("code"):
        return None
    return f"{response.status_code} without a JSON error body: {response.content[:200]!r}"


def _breakable(op, pinned):
    """Whether a request can be malformed at all: any text fits a bare string, so only a body or a typed value can."""
    params = [p for p in (*op.query, *op.path_parameters) if p.name not in pinned]
    return bool(op.body) or any(p.definition["schema"] != {"type": "string"} for p in params)


def _fuzz(op, strategy, callers, failures, label, examples, stored):
    """Run one strategy against one operation, each case as one of the callers; the first problem of a run is kept.

    stored is the digest of the rows as the run starts.
    """

    @settings(SETTINGS, max_examples=examples)
    @given(role=st.sampled_from(sorted(callers)), case=strategy)
    def run(role, case):
        nonlocal stored
        response = case.call(base_url=BASE, headers=callers[role])
        db.session.rollback()
        journal().flush()  # denials open desk exceptions as their events are written: not the request's doing
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except BaseExceptionGroup:  # schemathesis' FailureGroup; every failure is reported together at the end
            failures.setdefault(label, f"{response.status_code} as {role}\n{case.as_curl_command()}")
            return
        status, problem = response.status_code, _not_a_json_error(response)
        if problem is None and status < 400:
            stored = None  # a change was allowed: the next refusal is judged against the rows as they are then
        elif problem is None:
            now = _digest()
            if stored not in (None, now):
                problem = f"refused with {status} but stored rows changed"
            stored = now
        if problem is None and op.path.endswith("/gate/verify") and status == 200 and response.json()["decision"] == "grant":
            problem = "fuzzed input was granted"
        if problem:
            failures.setdefault(label, f"{problem} (as {role})\n{case.as_curl_command()}")

    run()


# The operations are dealt round-robin into shards so that `make test`'s workers share the longest test.
SHARDS = 6


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_input_gets_a_server_error(app, client, world, shard):
    paths = _seed(client, world)
    admin = create_user("admin1", world.PASSWORD, "admin", "总管理员")  # of every site: site_id arguments count
    headers = {u.role: world.token(u) for u in (world.r1, world.guard, world.manager, admin)}
    headers["device"] = world.device("fuzz-reader")[1]
    _bind_like_postgresql(db.engine)
    snapshot, seeded = Snapshot(), _digest()

    def restore():
        """Each run starts from the seeded world, whatever the one before revoked, removed or logged out; its digest."""
        snapshot.restore()
        return seeded

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers={"Host": "portal.test"})
    failures, ran = {}, []
    operations = [result.ok() for result in schema.get_all_operations()]
    mine = operations[shard::SHARDS]
    for op in mine:
        label = f"{op.method.upper()} {op.path}"
        if (op.method.upper(), op.path) in SKIP:
            continue
        callers = _callers(client, op, headers)
        assert callers, f"{label} lets nobody in"
        pinned = {p.name: paths[p.name] for p in op.path_parameters}
        # Roles mostly differ in what they may see, not in how a body is read: a few more cases for each extra one.
        _fuzz(
            op,
            op.as_strategy(GenerationMode.POSITIVE, path_parameters=pinned),
            callers,
            failures,
            label,
            EXAMPLES * (len(callers) + 1) // 2,
            restore(),
        )
        # A malformed body or query at a real object; then malformed ids too, which mostly meet the router's 404.
        for fixed, examples in [(pinned, EXAMPLES), ({}, EXAMPLES // 2)] if pinned else [({}, EXAMPLES)]:
            if _breakable(op, fixed):
                _fuzz(
                    op,
                    op.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed),
                    callers,
                    failures,
                    f"{label}, malformed{' ids' if pinned and not fixed else ''}",
                    examples,
                    restore(),
                )
        ran.append(label)
    assert not failures, "\n\n".join(f"{label}: {why}" for label, why in failures.items())
    assert ran, f"shard {shard} of {SHARDS} fuzzed no operation"
