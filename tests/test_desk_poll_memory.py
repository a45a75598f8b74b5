"""Refused boards' polls are answered from the feed's in-memory buffer: no query, the same bytes, masked, per site."""

import time
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from desk_support import event
from sqlalchemy import event as sa_event

from portal.desk import hub as desk_hub
from portal.extensions import db


@pytest.fixture
def live(world, monkeypatch):
    """A stream's subscription for the world's site (it starts the listener), a buffer vouching from now on."""
    monkeypatch.setattr(desk_hub, "RECENT_MARGIN_SECONDS", 0)
    hub = desk_hub.hub_for(world.app)
    sub = hub.subscribe(desk_hub.Client(world.site.id))
    assert hub.ready.is_set() and world.site.id in hub.recent
    time.sleep(0.01)
    yield hub
    hub.unsubscribe(sub)


def _buffered(hub, site_id, ids):
    """Wait until the hub's thread has put these events in the site's buffer (it reads every quarter second)."""
    deadline = time.monotonic() + 5
    while not set(ids) <= {r[0] for r in hub.recent[site_id].rows}:
        assert time.monotonic() < deadline, "the feed never buffered the events"
        time.sleep(0.02)


def _since(moment):
    return quote(moment.isoformat())


@contextmanager
def event_reads(app):
    """Collects the SQL statements that read access events while the block runs."""
    seen = []

    def count(conn, cursor, statement, *args):
        if "access_events" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def _poll(client, world, query, headers=None):
    """A board's poll; returns the response and the statements that read access events for it."""
    with event_reads(world.app) as selects:
        resp = client.get(f"/api/v1/desk/events?{query}", headers=headers or world.token(world.guard))
    return resp, selects


def test_a_poll_within_the_buffer_runs_no_query_and_sends_what_the_table_would(client, world, live):
    start = datetime.now(UTC)
    p = world.make_pass(visitor_name="王小明", visitor_phone="+8613812345678")
    ids = [
        event(world, pass_id=p.id),
        event(world, decision="deny", reason="expired", pass_id=p.id),
        event(world, gate_id=world.car_gate.id),
    ]
    _buffered(live, world.site.id, ids)
    h = world.token(world.guard)
    for query in (
        f"since={_since(start)}&limit=50",
        f"since={_since(start)}&decision=deny",
        f"since={_since(start)}&gate={world.car_gate.id}",
        f"since={_since(start)}&limit=2",
    ):
        resp, selects = _poll(client, world, query, h)
        assert resp.status_code == 200 and selects == [], query
        # The same poll with an `until` (far away) is answered from the table: the very same bytes.
        table = client.get(f"/api/v1/desk/events?{query}&until=2999-01-01T00:00:00%2B00:00", headers=h)
        assert resp.get_data() == table.get_data(), query
    items = client.get(f"/api/v1/desk/events?since={_since(start)}", headers=h).get_json()["items"]
    assert [i["id"] for i in items] == ids[::-1]
    assert items[-1]["visitor"] == "王*明" and items[-1]["unit"] == "A栋 1201"
    body = client.get(f"/api/v1/desk/events?since={_since(start)}", headers=h).get_data(as_text=True)
    assert "13812345678" not in body and "王小明" not in body


def test_events_from_before_the_buffer_started_are_read_from_the_table(client, world, monkeypatch):
    early = event(world)
    hub = desk_hub.hub_for(world.app)
    sub = hub.subscribe(desk_hub.Client(world.site.id))  # the default margin: the buffer vouches from 5 s on
    try:
        since = datetime.fromtimestamp(time.time() - 1, UTC)
        resp, selects = _poll(client, world, f"since={_since(since)}")
        assert selects and [i["id"] for i in resp.get_json()["items"]] == [early]
    finally:
        hub.unsubscribe(sub)


def test_an_overflowing_buffer_sends_older_polls_to_the_table(client, world, live, monkeypatch):
    monkeypatch.setattr(desk_hub, "RECENT_PER_SITE", 3)
    start = datetime.now(UTC)
    ids = [event(world) for _ in range(5)]
    _buffered(live, world.site.id, ids[-3:])
    h = world.token(world.guard)
    resp, selects = _poll(client, world, f"since={_since(start)}", h)
    assert selects and [i["id"] for i in resp.get_json()["items"]] == ids[::-1]
    newest = client.get(f"/api/v1/desk/events?since={_since(start)}&limit=1", headers=h).get_json()["items"][0]
    later = datetime.fromtimestamp(newest["ts"], UTC)  # after every event that left the buffer
    resp, selects = _poll(client, world, f"since={_since(later)}", h)
    assert selects == [] and [i["id"] for i in resp.get_json()["items"]] == [ids[-1]]


def test_one_sites_buffer_never_answers_another_sites_poll(client, world, live):
    from portal.sites.operations import add_gate

    with world.app.test_request_context():
        other_gate = add_gate(world.other_site, "X", "别处")
        db.session.commit()
    other_sub = live.subscribe(desk_hub.Client(world.other_site.id))
    try:
        start = datetime.now(UTC)
        mine = event(world)
        theirs = event(world, site_id=world.other_site.id, gate_id=other_gate.id, decision="deny", reason="unknown")
        _buffered(live, world.other_site.id, [theirs])
        _buffered(live, world.site.id, [mine])
        assert [r[0] for r in live.recent[world.other_site.id].rows] == [theirs]
        assert [r[0] for r in live.recent[world.site.id].rows] == [mine]
        items = client.get(f"/api/v1/desk/events?since={_since(start)}", headers=world.token(world.guard)).get_json()["items"]
        assert [i["id"] for i in items] == [mine]
        # With only the other site's buffer live, this site's poll goes to the table.
        live.recent.pop(world.site.id)
        live.unsubscribe(next(c for c in live.clients if c.site_id == world.site.id))
        resp, selects = _poll(client, world, f"since={_since(start)}")
        assert selects and [i["id"] for i in resp.get_json()["items"]] == [mine]
    finally:
        live.unsubscribe(other_sub)


def test_a_listener_failure_empties_every_buffer(world, live):
    live._forget()
    assert live.recent == {}
