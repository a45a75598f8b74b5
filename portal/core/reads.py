"""A dedicated read connection per thread, outside the pool, for hot single-statement reads (the gate's lookups).

(docs/gate.md, "Reads", says why.)
"""

import threading
import time

from sqlalchemy import create_engine, exc, text
from sqlalchemy.pool import NullPool

from portal.core import connections
from portal.extensions import db


class Readers:
    """The per-thread read connections of one app's database."""

    def __init__(self, engine, options):
        url = engine.url
        self.shared = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        connect_args = dict((options or {}).get("connect_args", {}))
        extra = {}
        if url.get_backend_name() == "postgresql":
            extra["isolation_level"] = "AUTOCOMMIT"
            # These are key lookups whose best plan never depends on the values: plan once per connection
            # instead of letting the server re-plan the joined pass select on every call.
            # A keyword `options` replaces the URL's own (?options=-csearch_path=…), so carry that over too.
            url_options = url.query.get("options", "")
            url_options = " ".join(url_options) if isinstance(url_options, tuple) else url_options
            given = connect_args.get("options", url_options)
            connect_args["options"] = (given + " -c plan_cache_mode=force_generic_plan").strip()
        self.engine = None if self.shared else create_engine(url, poolclass=NullPool, connect_args=connect_args, **extra)
        self.local = threading.local()
        self.opened = []
        self.lock = threading.Lock()
        self.prepared = {}

    def connection(self):
        if self.shared:  # an in-memory database exists only on the session's connection
            return db.session.connection()
        conn = getattr(self.local, "conn", None)
        now = time.monotonic()
        if conn is not None and (conn.invalidated or conn.closed):
            conn.close()
            conn = None
        if conn is not None and now - self.local.used > connections.IDLE_PING_SECONDS and not self._alive(conn):
            conn = None
        if conn is None:
            assert self.engine is not None  # only a shared in-memory database has none, returned above
            conn = self.local.conn = self.engine.connect()
            with self.lock:
                self.opened.append(conn)
        self.local.used = now
        return conn

    @staticmethod
    def _alive(conn):
        try:
            conn.execute(text("SELECT 1"))
            return True
        except Exception:
            conn.invalidate()
            conn.close()
            return False

    def close(self):
        with self.lock:
            for conn in self.opened:
                conn.close()
            self.opened.clear()
        if self.engine is not None:
            self.engine.dispose()


_making = threading.Lock()


def readers(app):
    """The app's read connections (created on first use, once: threads racing to make them get the same)."""
    found = app.extensions.get("read_connections")
    if found is None:
        with _making:
            found = app.extensions.get("read_connections")
            if found is None:
                found = app.extensions["read_connections"] = Readers(db.engine, app.config.get("SQLALCHEMY_ENGINE_OPTIONS"))
    return found


def close(app):
    """Close the app's read connections (tests tearing an app down)."""
    found = app.extensions.pop("read_connections", None)
    if found is not None:
        found.close()


class Prepared:
    """A Core SELECT compiled once for the dialect and run on the DB-API cursor of a read connection.

    SQLAlchemy still writes the SQL and converts every bound and returned value (its own type
    processors: dates, JSON, encrypted columns); only its per-call execution machinery is
    skipped. For the gate's hot reads.
    """

    def __init__(self, stmt, dialect):
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        # Values the statement carries itself (LIMIT, literals); the caller supplies the required ones.
        self.static = {compiled.bind_names[p]: p.effective_value for p in compiled.binds.values() if not p.required}
        self.order = compiled.positiontup if compiled.positional else None
        self.binds = {}
        for param in compiled.binds.values():
            proc = param.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                self.binds[compiled.bind_names[param]] = proc
        columns = list(stmt.exported_columns)
        self.keys = tuple(c.key for c in columns)
        self.procs = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)

    def _params(self, values):
        params = dict(self.static, **values)
        for name, proc in self.binds.items():
            params[name] = proc(params[name])
        if self.order is not None:
            return tuple(params[name] for name in self.order)
        return params

    def rows(self, conn, **values):
        """Every row as a dict of converted values."""
        params = self._params(values)
        dbapi_conn = conn.connection.dbapi_connection
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(self.sql, params)
            raw = cursor.fetchall()
        except conn.dialect.loaded_dbapi.Error as err:
            # Translated as SQLAlchemy would: a dropped connection is invalidated (the next call opens a
            # new one) and the error is a DBAPIError that says so, which the gate retries or fails closed on.
            gone = conn.dialect.is_disconnect(err, dbapi_conn, cursor)
            if gone:
                conn.invalidate(err)
            raise exc.DBAPIError.instance(
                self.sql, params, err, conn.dialect.loaded_dbapi.Error, connection_invalidated=gone, dialect=conn.dialect
            ) from err
        finally:
            cursor.close()
        return [{k: (p(v) if p is not None else v) for k, p, v in zip(self.keys, self.procs, row, strict=True)} for row in raw]


def rows(stmt, **values):
    """Run a Prepared form of stmt on this thread's read connection (compiled once per app)."""
    from flask import current_app

    found = readers(current_app._get_current_object())  # type: ignore[attr-defined]  # a LocalProxy method; Flask types current_app as Flask
    conn = found.connection()
    prepared = found.prepared.get(stmt)
    if prepared is None:
        prepared = found.prepared[stmt] = Prepared(stmt, conn.dialect)
    return prepared.rows(conn, **values)
