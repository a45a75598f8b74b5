"""Shared fixtures: an app per test on its own database, and factories for the world in it."""

import concurrent.futures.thread
import contextlib
import fcntl
import gc
import os
import shutil
import threading
import uuid
import weakref
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")
# Collection imports the portal and every test module: hundreds of thousands of objects that live as long as
# the worker. The collector's full passes over them while they are being made are wasted; it is switched back
# on, with those objects frozen, once collection is done (pytest_collection_finish).
gc.disable()


def _compile_translations():
    """Compile the Chinese catalogue when it is newer than the .mo (make does this too)."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = Path(__file__).resolve().parent.parent / "portal/translations/zh/LC_MESSAGES/messages.po"
    mo = po.with_suffix(".mo")
    if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
        with po.open("rb") as src, mo.open("wb") as dst:
            write_mo(dst, read_po(src, locale="zh"))


_compile_translations()


def _compile_templates_once():
    """Share one in-memory Jinja bytecode cache between the test apps (each compiled every template again).

    Jinja checks each entry against the template source's checksum, and every test app builds its Jinja
    environment with the same options, so a shared entry is exactly what the app would have compiled.
    """
    from flask import Flask
    from jinja2 import BytecodeCache

    class Shared(BytecodeCache):
        def __init__(self):
            self.codes = {}

        def load_bytecode(self, bucket):
            if bucket.key in self.codes:
                bucket.bytecode_from_string(self.codes[bucket.key])

        def dump_bytecode(self, bucket):
            self.codes[bucket.key] = bucket.bytecode_to_string()

    Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": Shared()}


_compile_templates_once()

import pyotp  # noqa: E402
import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402
from sqlalchemy.util import LRUCache  # noqa: E402
from support import PASSWORD, login  # noqa: E402
from werkzeug.routing import Map  # noqa: E402

from portal.app import create_app  # noqa: E402
from portal.config import TestConfig  # noqa: E402
from portal.core import ratelimit, reads  # noqa: E402
from portal.core.lean import PortalFlask  # noqa: E402
from portal.events import journal  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.gate import cache as decision_cache  # noqa: E402

PG_URL = os.environ.get("DATABASE_URL", "")
IS_PG = PG_URL.startswith("postgres")


def pg_url():
    """The PostgreSQL URL for integration tests, in SQLAlchemy's psycopg form."""
    url = PG_URL
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


REQUIRE_INTEGRATION = os.environ.get("PORTAL_REQUIRE_INTEGRATION") == "1"
_skipped_integration = []


def skip_unless(condition, why):
    """Skip locally when a real service is missing; in CI (.ci/run) that is a failure."""
    if condition:
        return
    if REQUIRE_INTEGRATION:
        pytest.fail(f"integration service missing in CI: {why}")
    pytest.skip(why)


def pytest_collection_finish(session):
    """Keep the garbage collector off what every test shares, and let it run less often.

    After collection a worker holds every module it imported (the portal, SQLAlchemy, hypothesis, ...),
    each full collection walked all of it again, and the apps and sessions a test makes set one off every
    few hundred allocations: in a sample of five modules the collector took 3.4 s of 23.5 s of CPU (1.0 s
    of 19.5 s after this). Frozen objects are never collected (what the imports made lives as long as the
    process anyway); a collection now waits for 100,000 new objects instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 20, 20)
    gc.enable()


def pytest_sessionstart(session):
    """xdist's controller collects nothing (its workers do), so its collector goes back on at once."""
    if session.config.pluginmanager.has_plugin("dsession"):
        gc.enable()


@pytest.fixture(autouse=True)
def _serial_neighbours(request, tmp_path_factory):
    """Under xdist, a test marked alone holds the serial lock exclusively; other serial tests share it.

    `make test` runs the serial tests on two workers: they mostly wait on servers, browsers and bridges, and
    one such neighbour leaves a one-second bound intact. A bound of tens of milliseconds (alone) is measured
    with nothing beside it.
    """
    if "PYTEST_XDIST_TESTRUNUID" not in os.environ or request.node.get_closest_marker("serial") is None:
        yield
        return
    # The run's temporary directory (each xdist worker has its own below it): pytest removes old runs' ones.
    with open(tmp_path_factory.getbasetemp().parent / "serial.lock", "a") as lock:
        alone = request.node.get_closest_marker("alone") is not None
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pytest_runtest_logreport(report):
    """Remember integration tests that were skipped."""
    if report.skipped and "integration" in report.keywords:
        _skipped_integration.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """CI must not pass with integration tests skipped; the unraisable-exception check after this collects cheaply.

    That check runs five full collections over everything the worker still holds (2 s of each worker's end);
    freezing it first leaves only what is made afterwards for them to walk.
    """
    gc.freeze()
    if REQUIRE_INTEGRATION and _skipped_integration:
        print("\nintegration tests skipped in CI:", *_skipped_integration, sep="\n  ")
        session.exitstatus = 1


def close_app(application):
    """Write out the event journal, close read connections and the pool (inside the app's context)."""
    journal.stop(application)
    decision_cache.stop(application)
    reads.close(application)
    db.session.remove()
    db.engine.dispose()


class _SharedRoutes(Map):
    """The URL map the fixtures' apps share: the first one builds it, the others replay the same rules onto it.

    Every test app registers the same blueprints, and building the map (each rule parsed, compiled and added
    to the matcher) is most of create_app. An app being replayed still registers its view functions, hooks
    and everything else; only the rules, already in the map, are skipped. Rules that differ (a patched
    blueprint) make the fixture build that app a map of its own; a rule a test adds afterwards retires the map.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.keys = []  # what the first app added, in order
        self.sealed = False  # built: later adds come from a test
        self.replay = None  # while an app is replayed: what it would have added

    @staticmethod
    def key(rule):
        """What a rule is: two rules with the same key route and build alike."""
        return (
            rule.rule,
            rule.endpoint,
            frozenset(rule.methods or ()),
            tuple(sorted((rule.defaults or {}).items())),
            rule.subdomain,
            rule.host,
            rule.strict_slashes,
            rule.merge_slashes,
            rule.build_only,
            repr(rule.redirect_to),
            rule.websocket,
            getattr(rule, "provide_automatic_options", None),
        )

    def add(self, rulefactory):
        rules = list(rulefactory.get_rules(self))
        if self.replay is not None:
            self.replay.extend(self.key(rule) for rule in rules)
            return
        if not self.sealed:
            self.keys.extend(self.key(rule) for rule in rules)
        super().add(rulefactory)

    def changed(self):
        """Whether a test added rules to an app on this map."""
        return sum(len(rules) for rules in self._rules_by_endpoint.values()) != len(self.keys)


class _SharedCompiled(LRUCache):
    """One cache of compiled SQL for every test app's engine and every mapper's flush, as if there were one engine.

    SQLAlchemy keys a compiled statement by its dialect object, and each test app's engine has its own, so
    every test compiled each statement it ran again (a third of the compilations in a sample of six modules).
    The key here names the dialect by its class and its settings as connected (server version, parameter
    style, default schema, JSON functions, ...), so only dialects that would compile alike share an entry.
    """

    __slots__ = ()
    names = weakref.WeakKeyDictionary()  # dialect: its name in the key, taken at its first statement (connected)

    @classmethod
    def _key(cls, key):
        dialect = key[0]
        name = cls.names.get(dialect)
        if name is None:
            settings = []
            for attr, value in sorted(vars(dialect).items()):
                if not (isinstance(value, (str, int, float, bool, tuple, type(None))) or callable(value)):
                    value = type(value)  # an object of its own per dialect (preparer, caches): its kind
                settings.append((attr, value))
            name = cls.names[dialect] = (type(dialect), tuple(settings))
        return (name, *key[1:])

    def get(self, key, default=None):
        return super().get(self._key(key), default)

    def __getitem__(self, key):
        return super().__getitem__(self._key(key))

    def __setitem__(self, key, value):
        super().__setitem__(self._key(key), value)


_compiled = _SharedCompiled(2000)


def _share_compiled_sql(application):
    """Point the app's engines, and the mappers' flushes, at the shared cache of compiled SQL (see _SharedCompiled)."""
    with application.app_context():
        for engine in db.engines.values():
            engine._compiled_cache = _compiled
    for mapper in db.Model.registry.mappers:
        if not isinstance(mapper.__dict__.get("_compiled_cache"), _SharedCompiled):
            mapper.__dict__["_compiled_cache"] = _compiled


_routes = {}


def _test_app(**config):
    """create_app(TestConfig, **config) on the worker's shared URL map (see _SharedRoutes)."""
    shared = _routes.get("map")
    if shared is not None and shared.changed():
        del _routes["map"]  # a test added a rule to its app: later apps must not route it
        shared = None
    if shared is None:
        PortalFlask.url_map_class = _SharedRoutes
        try:
            application = create_app(TestConfig, **config)
        finally:
            del PortalFlask.url_map_class
        application.url_map.sealed = True
        _routes["map"] = application.url_map
        _share_compiled_sql(application)
        return application
    shared.replay = []
    PortalFlask.url_map_class = staticmethod(lambda host_matching=False: shared)
    try:
        application = create_app(TestConfig, **config)
    finally:
        del PortalFlask.url_map_class
        replayed, shared.replay = shared.replay, None
    if replayed != shared.keys:
        del _routes["map"]  # the blueprints differ from the first app's: this app builds its own map
        return _test_app(**config)
    _share_compiled_sql(application)
    return application


_templates = {}


def _template_db(tmp_path_factory):
    """A SQLite file made by create_all (tables, the gate cache's triggers and its epoch row), built once per session.

    Keyed by the tables the metadata declares, so a test module that imports more models gets its own template.
    """
    key = tuple(sorted(db.metadata.tables))
    path = _templates.get(key)
    if path is None:
        path = tmp_path_factory.mktemp("template") / "template.db"
        application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", SERVER_NAME="portal.test")
        with application.app_context():
            db.create_all()
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            close_app(application)
        for side in ("-wal", "-shm"):
            Path(f"{path}{side}").unlink(missing_ok=True)  # empty after the checkpoint and the last close
        _templates[key] = _templates[tuple(sorted(db.metadata.tables))] = path  # create_app may import more models
    return path


# A test marked @each_database runs twice: its app (and world, clients, ...) on SQLite, then on PostgreSQL as an
# integration test that skips, or fails in CI, without DATABASE_URL pointing at PostgreSQL.
each_database = pytest.mark.parametrize(
    "app", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)], indirect=True
)


@pytest.fixture
def app(request, tmp_path, tmp_path_factory):
    """An app on a fresh SQLite file: a copy of the session's create_all template (a copy takes 1 ms, create_all 100).

    Under @each_database, the postgresql variant is pg_app instead.
    """
    if getattr(request, "param", "sqlite") == "postgresql":
        yield request.getfixturevalue("pg_app")
        return
    path = tmp_path / "test.db"
    handles = None
    if "world" in request.fixturenames:
        template, handles = _world_template(tmp_path_factory)
    else:
        template = _template_db(tmp_path_factory)
    shutil.copyfile(template, path)
    application = _test_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", SERVER_NAME="portal.test")
    application.extensions["test_world"] = handles
    with application.app_context():
        yield application
        close_app(application)


def _world_template(tmp_path_factory):
    """(A copy of the create_all template with World's community in it, {attribute: (model, id)}), once per session.

    A test that asks for world gets its app on a copy of this file, and World.load finds the rows by id.
    """
    base = _template_db(tmp_path_factory)
    made = _templates.get(("world", base))
    if made is None:
        path = tmp_path_factory.mktemp("template") / "world.db"
        shutil.copyfile(base, path)
        application = _test_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", SERVER_NAME="portal.test")
        with application.app_context():
            world = World(application)
            handles = {name: (type(value), value.id) for name, value in vars(world).items() if name in World.HANDLES}
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            close_app(application)
        for side in ("-wal", "-shm"):
            Path(f"{path}{side}").unlink(missing_ok=True)
        made = _templates[("world", base)] = (path, handles)
    return made


@pytest.fixture
def pg_schema():
    """A private, empty PostgreSQL schema for one test (migrations, create_all); concurrent runs don't collide."""
    skip_unless(IS_PG, "DATABASE_URL does not point at PostgreSQL")
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_url())
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    yield name
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    engine.dispose()


def pg_options(schema, **connect_args):
    """Engine options for an app on PostgreSQL inside schema."""
    return {
        "connect_args": {"options": f"-csearch_path={schema}", **connect_args},
        "pool_size": 30,
        "max_overflow": 10,
    }


class _PgTables:
    """This worker's PostgreSQL schema with every table, made by create_all once and emptied before each test.

    Emptying is a DELETE per table (create_all takes a second or more on a busy server, the DELETEs a few
    milliseconds). If a test left the schema changed (a table, a trigger, a column) or rows locked, the
    next test gets a new schema; they are all dropped when the worker ends.
    """

    # Every relation, column count and trigger of the schema: what create_all made must still be there.
    SHAPE = """SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
        SELECT concat_ws(':', c.relname, c.relkind::text, c.relnatts) AS x
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()
        UNION ALL SELECT t.tgname::text
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema()) AS shape"""
    RESTART = """SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND n.nspname = current_schema()"""

    def __init__(self):
        self.engine = None
        self.made = []  # every schema this worker made
        self.current = None  # (schema, tables in delete order, shape, the metadata's tables)

    def schema(self):
        """A schema with every table of the app's metadata, empty, its sequences restarted."""
        if self.engine is None:
            self.engine = create_engine(pg_url(), poolclass=NullPool)
            create_app(TestConfig, SERVER_NAME="portal.test")  # imports every feature's models
        tables = tuple(sorted(db.metadata.tables))
        if self.current is None or self.current[3] != tables or not self._empty():
            self._make(tables)
        return self.current[0]

    def _make(self, tables):
        name = f"w_{uuid.uuid4().hex[:12]}"
        with self.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        self.made.append(name)
        application = create_app(
            TestConfig, SQLALCHEMY_DATABASE_URI=pg_url(), SERVER_NAME="portal.test", SQLALCHEMY_ENGINE_OPTIONS=pg_options(name)
        )
        with application.app_context():
            db.create_all()
            order = [f'"{t.name}"' for t in reversed(db.metadata.sorted_tables)]
            close_app(application)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f'SET LOCAL search_path = "{name}"')
            for statement in ratelimit.SCHEMA:  # what the db:// storage makes on first use, so the shape keeps
                conn.exec_driver_sql(statement)
            order += ["rate_limit_hits", "rate_limit_counters"]
            shape = conn.exec_driver_sql(self.SHAPE).scalar()
        self.current = (name, order, shape, tables)

    def _empty(self):
        """Empty the current schema in place; False when it cannot be reused."""
        name, order, shape, _ = self.current
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f'SET LOCAL search_path = "{name}"')
                conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")  # a leftover transaction: take a new schema
                if conn.exec_driver_sql(self.SHAPE).scalar() != shape:
                    return False
                # Replica mode skips triggers and foreign keys: no gate-cache NOTIFY to other workers' listeners.
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                conn.exec_driver_sql("; ".join(f"DELETE FROM {table}" for table in order))  # noqa: S608 - the metadata's names
                conn.exec_driver_sql(self.RESTART)
        except DBAPIError:
            return False
        return True

    def drop(self):
        """Drop every schema this worker made (at the end of the session)."""
        if self.engine is None:
            return
        for name in self.made:
            with contextlib.suppress(DBAPIError), self.engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self.engine.dispose()


_pg_tables = _PgTables()


@pytest.fixture(scope="session", autouse=True)
def _no_thread_left_running():
    """Fail the run when tests leave a non-daemon thread: it holds the process at exit (xdist kills it after 10 s)."""
    yield
    kept = [f"{t.name} ({type(t).__name__}, {getattr(t, '_target', None)})" for t in threading.enumerate() if _holds_exit(t)]
    assert not kept, f"threads a test started and never stopped: {kept}"


def _holds_exit(thread):
    """A live non-daemon thread other than the main one, not an executor's (stopped at exit) nor a short timer.

    (The rate limiter's memory storage expires its counters on 10-ms timers.)
    """
    if thread.daemon or thread is threading.main_thread() or not thread.is_alive():
        return False
    if isinstance(thread, threading.Timer) and thread.interval <= 1:
        return False
    return getattr(thread, "_target", None) is not concurrent.futures.thread._worker


@pytest.fixture(scope="session")
def _pg_tables_session():
    yield _pg_tables
    _pg_tables.drop()


@pytest.fixture
def pg_tables(_pg_tables_session):
    """The name of a PostgreSQL schema with every table, empty, for this test alone (see _PgTables)."""
    skip_unless(IS_PG, "DATABASE_URL does not point at PostgreSQL")
    return _pg_tables_session.schema()


@pytest.fixture
def pg_app(pg_tables):
    """An app on PostgreSQL, inside a schema of its own with every table."""
    application = _test_app(
        SQLALCHEMY_DATABASE_URI=pg_url(), SERVER_NAME="portal.test", SQLALCHEMY_ENGINE_OPTIONS=pg_options(pg_tables)
    )
    with application.app_context():
        yield application
        close_app(application)


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def login_as(app):
    """A factory: login_as(user) is a new test client logged in as user through the form (staff with TOTP)."""

    def log_in(user, client=None):
        client = client or app.test_client()
        resp = login(client, user)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return client

    return log_in


@pytest.fixture
def resident_client(world, login_as):
    """A client logged in as resident r1 (unit A 1201)."""
    return login_as(world.r1)


@pytest.fixture
def guard_client(world, login_as):
    """A client logged in as the site's guard (password + TOTP)."""
    return login_as(world.guard)


@pytest.fixture
def manager_client(world, login_as):
    """A client logged in as the site's manager (password + TOTP)."""
    return login_as(world.manager)


@pytest.fixture
def admin(world):
    """An admin of every site."""
    from portal.accounts.operations import create_user

    user = create_user("admin1", world.PASSWORD, "admin", "总管理员")
    db.session.commit()
    return user


@pytest.fixture
def admin_client(admin, login_as):
    """A client logged in as the admin (password + TOTP)."""
    return login_as(admin)


class World:
    """Handles to one community: places, people (with passwords) and helpers."""

    PASSWORD = PASSWORD
    HANDLES = ("site", "bldg_a", "bldg_b", "unit_a", "unit_b", "gate", "car_gate", "r1", "r2", "guard", "manager", "other_site")

    @classmethod
    def load(cls, app, handles):
        """The world already in app's database (a copy of the world template): the same rows World() makes."""
        world = cls.__new__(cls)
        world.app = app
        ids = {}
        for model, ident in handles.values():
            ids.setdefault(model, set()).add(ident)
        rows = {}  # one query per model, not one per handle
        for model, wanted in ids.items():
            rows.update({(model, row.id): row for row in db.session.scalars(db.select(model).where(model.id.in_(wanted)))})
        for name, key in handles.items():
            setattr(world, name, rows[key])
        return world

    def __init__(self, app):
        from portal.accounts.operations import create_user
        from portal.sites import operations as places

        self.app = app
        self.site = places.create_site("sunny", "阳光花园", timezone="Asia/Shanghai")
        self.bldg_a = places.add_building(self.site, "A", "A栋", 1, 18)
        self.bldg_b = places.add_building(self.site, "B", "B栋", 1, 11)
        self.unit_a = places.add_unit(self.bldg_a, "1201", 12)
        self.unit_b = places.add_unit(self.bldg_b, "0502", 5)
        self.gate = places.add_gate(self.site, "MAIN", "正门")
        self.car_gate = places.add_gate(self.site, "CAR", "车行道闸", kind="vehicle")
        self.r1 = create_user("r1", self.PASSWORD, "resident", "张伟")
        self.r2 = create_user("r2", self.PASSWORD, "resident", "李娜")
        places.move_in(self.r1, self.unit_a, "owner")
        places.move_in(self.r2, self.unit_b, "tenant")
        self.guard = create_user("guard1", self.PASSWORD, "guard", "王师傅", site=self.site)
        self.manager = create_user("manager1", self.PASSWORD, "manager", "经理", site=self.site)
        self.other_site = places.create_site("other", "别的小区")
        db.session.commit()

    def otp(self, user):
        """A TOTP code for a staff user (each works once)."""
        return pyotp.TOTP(user.totp_secret).now()

    def token(self, user):
        """A bearer header for a user, without going through the login endpoint."""
        from portal.accounts import bearer

        with self.app.test_request_context():
            plain, _ = bearer.issue_user_token(user)
            db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    def device(self, name="gate-1", kind="gate_reader", gates=None, site=None):
        """A device and its bearer header."""
        from portal.accounts import bearer
        from portal.devices.models import Device

        site = site or self.site
        dev = Device(
            site_id=site.id,
            name=name,
            kind=kind,
            driver="simulator",
            options={},
            gate_ids=[g.id for g in (gates if gates is not None else [self.gate])],
        )
        db.session.add(dev)
        db.session.flush()
        plain, _ = bearer.issue_device_token(dev)
        db.session.commit()
        return dev, {"Authorization": f"Bearer {plain}"}

    def make_pass(self, host=None, unit=None, commit=True, **values):
        """A pass issued through the operations layer; values override sensible defaults."""
        from portal.core.timeutil import utcnow
        from portal.passes.operations import issue_pass

        host = host or self.r1
        unit = unit or (self.unit_a if host is self.r1 else self.unit_b)
        now = utcnow()
        base = dict(
            visitor_name="访客",
            visitor_phone=None,
            visitor_id_number=None,
            plate=None,
            kind="guest",
            timezone="Asia/Shanghai",
            valid_from=now - timedelta(minutes=5),
            valid_until=now + timedelta(hours=4),
            schedule=None,
            max_entries=None,
            floors=[unit.floor],
            gate_ids=[],
            notify="none",
            company=None,
            work_area=None,
            note=None,
        )
        base.update(values)
        with self.app.test_request_context():
            p = issue_pass(host, unit, base)
            if commit:
                db.session.commit()
        return p


@pytest.fixture
def world(app):
    """A community with two residents of different units, a guard and a manager."""
    handles = app.extensions.get("test_world")
    return World.load(app, handles) if handles else World(app)


@pytest.fixture
def pg_world(pg_app):
    """The same world on PostgreSQL."""
    return World(pg_app)


def pass_body(**over):
    """A valid pass-creation body for the API."""
    from portal.core.timeutil import utcnow

    now = utcnow()
    body = {
        "visitor": {"name": "王小明", "phone": "+8613812345678"},
        "kind": "guest",
        "valid_from": (now - timedelta(minutes=1)).isoformat(),
        "valid_until": (now + timedelta(hours=3)).isoformat(),
        "notify": "sms",
    }
    body.update(over)
    return body
