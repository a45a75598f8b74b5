"""The live feed: payloads are masked, streams replay after Last-Event-ID, and fan out across processes."""

import json
import os
import threading
import time

import pytest
from conftest import skip_unless
from desk_support import event, read_frames

from portal.app import create_app
from portal.config import TestConfig
from portal.desk import feed
from portal.desk import hub as desk_hub


def test_event_api_filters_and_masks(client, world):
    p = world.make_pass(visitor_name="王小明", visitor_phone="+8613812345678")
    event(world, pass_id=p.id)
    event(world, decision="deny", reason="expired", gate_id=world.car_gate.id, pass_id=p.id)
    h = world.token(world.guard)
    items = client.get("/api/v1/desk/events", headers=h).get_json()["items"]
    assert [i["decision"] for i in items] == ["deny", "grant"]
    assert items[0]["visitor"] == "王*明" and items[0]["unit"] == "A栋 1201"
    assert items[0]["reason_label"] == {"en": "Pass expired", "zh": items[0]["reason_label"]["zh"]}
    assert "13812345678" not in client.get("/api/v1/desk/events", headers=h).get_data(as_text=True)
    denied = client.get("/api/v1/desk/events?decision=deny", headers=h).get_json()["items"]
    assert [i["reason"] for i in denied] == ["expired"]
    by_gate = client.get(f"/api/v1/desk/events?gate={world.gate.id}", headers=h).get_json()["items"]
    assert [i["reason"] for i in by_gate] == ["ok"]
    later = client.get("/api/v1/desk/events?since=2999-01-01T00:00:00%2B08:00", headers=h).get_json()["items"]
    assert later == []
    assert client.get("/api/v1/desk/events?since=yesterday", headers=h).status_code == 400


@pytest.mark.integration
def test_event_filters_beyond_any_id_are_400_on_postgres(pg_app, pg_world):
    """A gate or cursor id PostgreSQL cannot bind to an INTEGER column is bad input (it was a 500)."""
    h = pg_world.token(pg_world.guard)
    for arg in ("gate", "before_id"):
        resp = pg_app.test_client().get(f"/api/v1/desk/events?{arg}={2**32}", headers=h)
        assert resp.status_code == 400 and resp.get_json()["error"]["fields"][arg]["code"] == "out_of_range"


@pytest.mark.integration
def test_stream_ids_beyond_any_row_are_refused_or_ignored_on_postgres(pg_app, pg_world):
    """An out-of-range gate is a 400 and an out-of-range Last-Event-ID replays nothing; no subscriber is left behind."""
    h = pg_world.token(pg_world.guard)
    client = pg_app.test_client()
    bad = client.get(f"/api/v1/desk/stream?gate={2**32}", headers=h)
    assert bad.status_code == 400 and bad.get_json()["error"]["fields"]["gate"]["code"] == "out_of_range"
    for headers in (h | {"Last-Event-ID": str(2**32)}, h):
        resp = client.get(f"/api/v1/desk/stream?last_id={2**32}", headers=headers, buffered=False)
        assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
        resp.close()
    assert not desk_hub.hub_for(pg_app).clients


def test_stream_replays_after_last_event_id_then_goes_live(client, world):
    first = event(world)
    second = event(world, decision="deny", reason="revoked")
    resp = client.get("/api/v1/desk/stream", headers=world.token(world.guard) | {"Last-Event-ID": str(first)}, buffered=False)
    assert resp.mimetype == "text/event-stream"
    chunks = iter(resp.response)
    replayed = read_frames(chunks, 1)
    assert [i for i, _ in replayed] == [second]
    third = event(world, decision="deny", reason="unknown")  # committed while the stream is open
    live = read_frames(chunks, 1)
    assert live[0][0] == third and live[0][1]["reason"] == "unknown"
    resp.close()


def test_stream_filters_and_other_sites_events_never_arrive(client, world):
    from portal.sites.operations import add_gate

    with world.app.test_request_context():
        other_gate = add_gate(world.other_site, "X", "别处")
        from portal.extensions import db

        db.session.commit()
    start = event(world)
    event(world, site_id=world.other_site.id, gate_id=other_gate.id, decision="deny", reason="unknown")
    event(world, decision="grant")
    mine = event(world, decision="deny", reason="expired")
    resp = client.get(f"/api/v1/desk/stream?decision=deny&last_id={start}", headers=world.token(world.guard), buffered=False)
    frames = read_frames(iter(resp.response), 1)
    assert [i for i, _ in frames] == [mine]
    resp.close()


def _fanout_roundtrip(make_app, world):
    """A second app (another worker process's view) hears an event the first one commits, as a full board payload."""
    p = world.make_pass(visitor_name="王小明", visitor_phone="+8613812345678")
    listener_app = make_app()
    hub = desk_hub.hub_for(listener_app)
    client = hub.subscribe(desk_hub.Client(world.site.id))
    try:
        assert hub.ready.is_set()
        t0 = time.monotonic()
        eid = event(world, decision="deny", reason="replayed", pass_id=p.id)
        got = client.q.get(timeout=2)
        assert got[0] == eid and time.monotonic() - t0 < 1.0
        item = json.loads(got[1])
        assert item["visitor"] == "王*明" and item["unit"] == "A栋 1201" and item["gate"]["id"] == world.gate.id
        assert item["reason"] == "replayed" and "13812345678" not in got[1]
    finally:
        hub.unsubscribe(client)


@pytest.mark.integration
@pytest.mark.serial
def test_fanout_over_postgres_listen_notify(pg_world, pg_app):
    pg_app.config["DESK_FEED"] = "auto" if not pg_app.config.get("REDIS_URL") else "postgres"
    assert feed.mode_for(pg_app) == "postgres"

    def make():
        return create_app(
            TestConfig,
            SQLALCHEMY_DATABASE_URI=pg_app.config["SQLALCHEMY_DATABASE_URI"],
            SQLALCHEMY_ENGINE_OPTIONS=pg_app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            DESK_FEED="postgres",
        )

    _fanout_roundtrip(make, pg_world)


@pytest.mark.integration
@pytest.mark.serial
def test_fanout_over_redis(tmp_path, world, app):
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        up = True
    except Exception:
        up = False
    skip_unless(up, "Redis is not reachable")
    app.config.update(REDIS_URL=url, DESK_CHANNEL=f"desk_test_{os.getpid()}_{id(app)}")

    def make():
        return create_app(
            TestConfig,
            SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
            REDIS_URL=url,
            DESK_CHANNEL=app.config["DESK_CHANNEL"],
        )

    _fanout_roundtrip(make, world)


def test_local_mode_polls_events_written_by_other_processes(app, world):
    app.config["DESK_FEED"] = "local"
    hub = desk_hub.hub_for(app)
    assert hub.mode == "local"
    client = hub.subscribe(desk_hub.Client(world.site.id))
    try:
        # Simulate another process: insert without this process's after-commit hand-over.
        from sqlalchemy import text

        from portal.extensions import db

        done = threading.Event()

        def other():
            with app.app_context():
                db.session.execute(
                    text(
                        "INSERT INTO access_events (at, site_id, method, decision, reason, source, details) "
                        "VALUES (CURRENT_TIMESTAMP, :s, 'qr', 'deny', 'unknown', 'bridge', '{}')"
                    ),
                    {"s": world.site.id},
                )
                db.session.commit()
                done.set()

        threading.Thread(target=other).start()
        assert done.wait(2)
        eid, data = client.q.get(timeout=2)
        assert '"reason":"unknown"' in data
    finally:
        hub.unsubscribe(client)


def test_a_board_whose_announced_events_cannot_be_read_reconnects_and_replays(client, world, monkeypatch):
    """A failed read of announced rows ends the stream at once; the reconnect replays what it missed."""
    from portal.desk import queries

    world.app.config["DESK_FEED"] = "local"
    first = event(world)
    headers = world.token(world.guard) | {"Last-Event-ID": str(first)}
    chunks = iter(client.get("/api/v1/desk/stream", headers=headers, buffered=False).response)
    assert next(chunks).startswith(b"retry:")
    with monkeypatch.context() as m:
        m.setattr(queries, "events_by_id", lambda *a, **k: 1 / 0)
        missed = event(world, decision="deny", reason="revoked")
        t0 = time.monotonic()
        list(chunks)  # ends instead of waiting for the next heartbeat
        assert time.monotonic() - t0 < 5
    replayed = read_frames(iter(client.get("/api/v1/desk/stream", headers=headers, buffered=False).response), 1)
    assert replayed[0][0] == missed and replayed[0][1]["reason"] == "revoked"


def _late_commit_replayed(world, client, open_late_insert):
    """A row inserted before event b but committed after a board saw b is replayed; older ones are not."""
    from datetime import timedelta

    from portal.core.timeutil import utcnow

    old = event(world, at=utcnow() - timedelta(minutes=1), decision="deny", reason="expired")
    commit_late, late = open_late_insert()
    seen = event(world)  # a higher id, committed first: the board shows it
    commit_late()
    assert old < late < seen
    headers = world.token(world.guard) | {"Last-Event-ID": str(seen)}
    resp = client.get("/api/v1/desk/stream", headers=headers, buffered=False)
    chunks = iter(resp.response)
    ((frame_id, item),) = read_frames(chunks, 1)
    assert frame_id == item["id"] == late and item["reason"] == "unknown"
    newer = event(world, decision="deny", reason="revoked")
    ((frame_id, item),) = read_frames(chunks, 1)
    assert frame_id == newer and item["reason"] == "revoked"
    resp.close()


_LATE_SQL = (
    "INSERT INTO access_events (at, site_id, method, decision, reason, source, details) "
    "VALUES (:at, :s, 'qr', 'deny', 'unknown', 'bridge', '{}') RETURNING id"
)


@pytest.mark.integration
def test_events_committed_late_under_a_lower_id_are_replayed_on_postgres(pg_world, pg_app):
    """Two real transactions: the lower id commits after the higher one was shown."""
    from sqlalchemy import text

    from portal.core.timeutil import utcnow
    from portal.extensions import db

    def open_late_insert():
        conn = db.engine.connect()
        late = conn.execute(text(_LATE_SQL), {"at": utcnow(), "s": pg_world.site.id}).scalar_one()

        def commit():
            conn.commit()
            conn.close()

        return commit, late

    _late_commit_replayed(pg_world, pg_app.test_client(), open_late_insert)


def test_late_rows_are_replayed_within_their_window_on_sqlite(client, world):
    """SQLite has one writer at a time, so a late commit is staged: a lower id's row is rewritten after."""
    from sqlalchemy import text

    from portal.core.timeutil import utcnow
    from portal.extensions import db

    def open_late_insert():
        gap = event(world)

        def commit():
            with world.app.app_context():
                db.session.execute(text("DELETE FROM access_events WHERE id = :i"), {"i": gap})
                db.session.execute(
                    text(_LATE_SQL.replace("(at,", "(id, at,").replace("VALUES (", "VALUES (:i, ")),
                    {"i": gap, "at": utcnow(), "s": world.site.id},
                )
                db.session.commit()

        return commit, gap

    _late_commit_replayed(world, client, open_late_insert)
