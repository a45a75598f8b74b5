"""Each worker's copy of the QR decision's rows: rescans skip the database, and no change is ever missed.

Every change below is made the way another worker, the CLI or a manual fix would make it: plain SQL
on a separate connection, which the portal's own code never sees. Only the database's triggers can
tell the cache, so these tests fail if a trigger is missing.
"""

import time

import pytest
from conftest import each_database
from gate_support import reason, verify
from sqlalchemy import create_engine, text
from support import race

from portal.core import reads
from portal.core.timeutil import utcnow
from portal.events import journal
from portal.extensions import db
from portal.gate import cache as decision_cache
from portal.gate import triggers
from portal.passes import codes
from portal.passes.operations import revoke_pass

PLATE = "京A12345"

# (change made by another writer, expected answer to the next scan: (status, decision, reason))
CHANGES = {
    "pass revoked": ("UPDATE passes SET status = 'revoked' WHERE id = :pass_id", (200, "deny", "revoked")),
    "pass moved to another gate": ("UPDATE passes SET gate_ids = '[999999]' WHERE id = :pass_id", (200, "deny", "wrong_gate")),
    "pass made single-use and used": (
        "UPDATE passes SET max_entries = 1, uses = 1 WHERE id = :pass_id",
        (200, "deny", "used_up"),
    ),
    "plate put on the watchlist": (
        "INSERT INTO watchlist (site_id, kind, plate, active, created_at, updated_at) "
        "SELECT site_id, 'plate', plate, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM passes WHERE id = :pass_id",
        (200, "deny", "watchlisted"),
    ),
    "device token revoked": (
        "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE device_id = :device_id",
        (401, None, None),
    ),
    "device disabled": ("UPDATE devices SET status = 'disabled' WHERE id = :device_id", (401, None, None)),
    "signing key retired": (
        "UPDATE signing_keys SET status = 'retired' WHERE site_id = (SELECT site_id FROM passes WHERE id = :pass_id)",
        (200, "deny", "bad_signature"),
    ),
}


def _until(predicate, seconds):
    """Seconds until predicate() held (polling), or None if it did not within seconds."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.002)
    return None


def _answer(client, header, text_):
    status, data = verify(client, header, qr=text_)
    return (status, data.get("decision"), data.get("reason")) if status == 200 else (status, None, None)


def _cached_pass(app, world, client):
    """(device, header, qr text, pass id, decision cache) with the pass's row cached and a rescan served from it."""
    device, header = world.device("reader")
    p = world.make_pass(max_entries=None, plate=PLATE)
    text_ = codes.qr_text(p)
    assert reason(client, header, qr=text_) == ("grant", "ok")
    cache = decision_cache.for_app(app)
    assert _until(cache.usable, 5) is not None  # PostgreSQL: once the listener's first fence is back
    assert reason(client, header, qr=text_) == ("grant", "ok")
    hits = cache.hits
    assert reason(client, header, qr=text_) == ("grant", "ok")
    assert cache.hits == hits + 1  # the rescan came from the cache
    return device, header, text_, p.id, cache


def _other_writer(app, sql, **params):
    """Run sql and commit on a connection of its own, as another process would."""
    options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], connect_args=options.get("connect_args", {}))
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_sqlite_a_change_by_another_writer_reaches_the_very_next_scan(app, world, client, change):
    device, header, text_, pass_id, _ = _cached_pass(app, world, client)
    sql, expected = CHANGES[change]
    _other_writer(app, sql, pass_id=pass_id, device_id=device.id)
    assert _answer(client, header, text_) == expected


def test_a_revocation_committed_here_reaches_the_next_scan(app, world, client):
    _, header, text_, pass_id, _ = _cached_pass(app, world, client)
    from portal.passes.models import Pass

    with app.test_request_context():
        revoke_pass(db.session.get(Pass, pass_id), reason="test")
        db.session.commit()
    assert reason(client, header, qr=text_) == ("deny", "revoked")


def test_the_gates_own_counters_leave_the_cache_alone(app, world, client):
    _, header, text_, pass_id, cache = _cached_pass(app, world, client)
    journal.journal(app).flush()  # writes the scans' events, the pass's use count and the token's last use
    from portal.passes.models import Pass

    assert db.session.get(Pass, pass_id).uses == 3
    generation = cache.generation
    assert reason(client, header, qr=text_) == ("grant", "ok")
    assert cache.generation == generation  # nothing emptied it


def test_limited_passes_and_directions_always_read_the_database(app, world, client):
    _, header = world.device("reader")
    limited = world.make_pass(max_entries=1)
    once = codes.qr_text(limited)
    assert reason(client, header, qr=once) == ("grant", "ok")
    assert reason(client, header, qr=once) == ("deny", "used_up")
    unlimited = codes.qr_text(world.make_pass(max_entries=None))
    assert reason(client, header, qr=unlimited, direction="in") == ("grant", "ok")
    # The unlimited pass may be in the cache (warmed), but a scan with a direction read its moved state.
    assert reason(client, header, qr=unlimited, direction="in") == ("deny", "anti_passback")
    assert limited.id not in decision_cache.for_app(app).passes  # a limited pass's row is never kept


def test_gate_cache_off_reads_every_time(app, world, client):
    app.config["GATE_CACHE"] = False
    _, header = world.device("reader")
    text_ = codes.qr_text(world.make_pass(max_entries=None))
    assert reason(client, header, qr=text_) == ("grant", "ok")
    assert reason(client, header, qr=text_) == ("grant", "ok")
    assert decision_cache.for_app(app) is None


def _fresh(cache):
    return _until(cache.usable, 5) is not None


@pytest.mark.integration
@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.serial
def test_postgresql_a_change_by_another_worker_reaches_the_gate_within_the_bound(pg_app, pg_world, change):
    client = pg_app.test_client()
    device, header, text_, pass_id, cache = _cached_pass(pg_app, pg_world, client)
    assert _fresh(cache)
    sql, expected = CHANGES[change]
    _other_writer(pg_app, sql, pass_id=pass_id, device_id=device.id)
    committed = time.monotonic()
    took = _until(lambda: _answer(client, header, text_) == expected, 2)
    assert took is not None and time.monotonic() - committed < pg_app.config["GATE_CACHE_STALE_MS"] / 1000
    assert _answer(client, header, text_) == expected


@pytest.mark.integration
def test_postgresql_a_lost_listener_stops_the_cache_until_it_is_back(pg_app, pg_world):
    client = pg_app.test_client()
    _, header, text_, _, cache = _cached_pass(pg_app, pg_world, client)
    assert _fresh(cache)
    _other_writer(
        pg_app,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name",
        name=cache.application_name,
    )
    # With no fences coming back the cache stops answering by itself; scans read the database meanwhile.
    assert _until(lambda: not cache.usable(), 2) is not None
    hits = cache.hits
    assert reason(client, header, qr=text_) == ("grant", "ok")
    assert cache.hits == hits
    assert _fresh(cache)  # the listener reconnected (after emptying the cache: it may have missed changes)
    assert reason(client, header, qr=text_) == ("grant", "ok")
    hits = cache.hits
    assert reason(client, header, qr=text_) == ("grant", "ok")
    assert cache.hits == hits + 1


def test_a_rescanned_text_is_checked_again_once_its_key_is_retired(app, world, client):
    from portal.passes import keys, operations

    _, header = world.device("reader")
    text_ = codes.qr_text(world.make_pass(max_entries=None))
    assert reason(client, header, qr=text_) == ("grant", "ok")
    assert reason(client, header, qr=text_) == ("grant", "ok")  # its signature is remembered now
    old_kid = keys.active_key_row(world.site.id).id
    operations.rotate_keys(world.site)
    operations.retire_key(old_kid)
    db.session.commit()
    assert reason(client, header, qr=text_) == ("deny", "bad_signature")


def test_this_process_empties_its_cache_at_commit_only_for_watched_columns(app, world, client):
    from portal.accounts.models import ApiToken
    from portal.passes.models import Pass

    device, _, _, pass_id, cache = _cached_pass(app, world, client)
    generation = cache.generation
    token = db.session.scalars(db.select(ApiToken).where(ApiToken.device_id == device.id)).one()
    token.last_used_at = utcnow()  # the gate's own bookkeeping, on every scan
    db.session.commit()
    assert cache.generation == generation
    db.session.get(Pass, pass_id).status = "revoked"
    db.session.commit()
    assert cache.generation == generation + 1  # at the commit, before any scan or notification


@each_database
def test_a_devices_first_scan_fills_the_cache_with_its_sites_live_passes(app, world, client):
    """The first scan at a site loads its live unlimited passes, so their own first scans read nothing."""
    _, header = world.device("reader")
    first, later = world.make_pass(), world.make_pass()
    world.make_pass(max_entries=3)  # limited: never kept
    revoked, elsewhere = world.make_pass(), world.make_pass()
    _other_writer(app, "UPDATE passes SET status = 'revoked' WHERE id = :pass_id", pass_id=revoked.id)
    _other_writer(
        app, "UPDATE passes SET site_id = :site_id WHERE id = :pass_id", site_id=world.other_site.id, pass_id=elsewhere.id
    )
    cache = decision_cache.for_app(app)
    assert _fresh(cache)
    assert reason(client, header, qr=codes.qr_text(first)) == ("grant", "ok")
    assert _until(cache.idle, 5) is not None
    assert set(cache.passes) == {first.id, later.id}  # not the limited, revoked or other site's pass
    hits = cache.hits
    assert reason(client, header, qr=codes.qr_text(later)) == ("grant", "ok")
    assert cache.hits == hits + 1  # its first scan was answered from the cache
    # A warmed row follows a change like any other: the next scan (PostgreSQL: within the bound) hears it.
    _other_writer(app, "UPDATE passes SET status = 'revoked' WHERE id = :pass_id", pass_id=later.id)
    assert _until(lambda: _answer(client, header, codes.qr_text(later)) == (200, "deny", "revoked"), 2) is not None


def test_a_warming_emptied_while_it_read_keeps_nothing_and_waits_its_interval(app, world):
    cache = decision_cache.for_app(app)
    calls = []

    def changed_meanwhile(site_id):
        calls.append(site_id)
        cache.clear()  # a change committed while the rows were being read: they may predate it
        return [(1, {"p_id": 1})]

    cache.warm(world.site.id, changed_meanwhile)
    assert _until(cache.idle, 5) is not None
    assert calls == [world.site.id] and cache.passes == {}
    cache.warm(world.site.id, changed_meanwhile)  # emptied since, but warmed less than GATE_CACHE_WARM_SECONDS ago
    assert _until(cache.idle, 5) is not None and calls == [world.site.id]
    cache.warm_every, cache.max_entries = 0, 2
    cache.warm(world.site.id, lambda site_id: [(n, {"p_id": n}) for n in (7, 8, 9)])
    assert _until(cache.idle, 5) is not None and set(cache.passes) == {7, 8}  # no more than GATE_CACHE_MAX


def test_warming_off_keeps_only_scanned_rows(app, world, client):
    app.config["GATE_CACHE_WARM"] = False
    _, header = world.device("reader")
    scanned, other = world.make_pass(), world.make_pass()
    cache = decision_cache.for_app(app)
    assert reason(client, header, qr=codes.qr_text(scanned)) == ("grant", "ok")
    assert _until(cache.idle, 5) is not None and set(cache.passes) == {scanned.id} and other.id not in cache.passes


def test_threads_racing_to_a_fresh_apps_first_scan_share_one_cache_and_one_set_of_read_connections(app, monkeypatch):
    # A losing set of read connections was freed while its thread still read through one of them: the
    # connection was closed under the read, and the worker died (SIGSEGV) in the epoch read.
    made = []
    slow_init = reads.Readers.__init__

    def slow(self, *args, **kwargs):
        made.append(self)
        time.sleep(0.02)  # widens the window in which a second thread would make its own
        slow_init(self, *args, **kwargs)

    monkeypatch.setattr(reads.Readers, "__init__", slow)
    app.extensions.pop("gate_replica", None)
    reads.close(app)
    caches = race(app, 8, lambda: (decision_cache.for_app(app), reads.readers(app)))
    assert len(made) == 1
    assert len({id(c) for c, _ in caches}) == 1 and len({id(r) for _, r in caches}) == 1


def test_a_notification_concerns_the_schemas_of_the_listeners_search_path():
    assert triggers.concerns("portal.passes", {"portal", "public"})
    assert not triggers.concerns("staging.passes", {"portal", "public"})
    assert triggers.concerns("a.b.passes", {"a.b"}) and not triggers.concerns("a.b.passes", {"a"})  # a quoted "a.b"
    assert triggers.concerns("passes", {"portal"})  # from a trigger made before payloads named their schema
    assert triggers.concerns("staging.passes", set())  # no search path known: every change counts


@pytest.mark.integration
def test_postgresql_a_change_in_another_schema_leaves_the_cache_alone_and_one_in_its_own_empties_it(pg_app, pg_world, pg_tables):
    cache = decision_cache.for_app(pg_app)
    assert _fresh(cache)
    generation = cache.generation

    def heard():
        """Wait until a fence sent after the notification came back: the listener has read everything before it."""
        sent = time.monotonic()
        assert _until(lambda: cache.fresh_as_of > sent, 2) is not None

    _other_writer(pg_app, "UPDATE passes SET status = status WHERE id = 0")  # the real trigger names this schema
    heard()
    assert cache.generation > generation
    generation = cache.generation
    # Another deployment (or test worker) in the same database, in a schema of its own.
    _other_writer(pg_app, "SELECT pg_notify('gate_cache', 'another_deployment.passes')")
    heard()
    assert cache.generation == generation
    _other_writer(pg_app, "SELECT pg_notify('gate_cache', :payload)", payload=f"{pg_tables}.passes")
    heard()
    assert cache.generation > generation
