"""Backup and restore: SQLite through its online backup API, PostgreSQL through pg_dump and pg_restore.

Both take a consistent snapshot while the portal keeps serving (SQLite's backup copies one read
transaction's view; pg_dump runs in one repeatable-read transaction), and both restore only into an
empty database, so a restore can never merge two histories.
"""

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """A backup or restore that cannot be done as asked (non-empty target, missing tool, bad file)."""


def _schema(engine_options):
    """The schema named by a search_path in the engine's connect options (the tests' private schemas), if any."""
    options = (engine_options or {}).get("connect_args", {}).get("options", "")
    found = re.search(r"search_path=([A-Za-z0-9_]+)", options)
    return found.group(1) if found else None


def _pg_args(url):
    """libpq's URL (no password: that goes in PGPASSWORD, never on a command line) and the environment."""
    url = make_url(url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def backup(url, dest, engine_options=None):
    """Write a consistent copy of the database at url to dest (a SQLite file or a pg_dump custom archive)."""
    url = make_url(url)
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupError("an in-memory SQLite database has nothing to back up")
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        target = sqlite3.connect(part)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    elif url.get_backend_name() == "postgresql":
        libpq, env = _pg_args(url)
        args = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={part}"]
        schema = _schema(engine_options)
        if schema:
            args.append(f"--schema={schema}")
        done = subprocess.run([*args, libpq], env=env, capture_output=True, text=True)  # noqa: S603 - pg_dump, our URL
        if done.returncode:
            part.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
    else:
        raise BackupError(f"no backup for {url.get_backend_name()}")
    os.replace(part, dest)  # a file named dest is always a whole backup
    return dest


def _tables(engine, schema):
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return conn.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"), {"s": schema or "public"}
            ).scalar()
        return len(inspect(conn).get_table_names())


def restore(engine, source, engine_options=None):
    """Load a backup made by backup() into the empty database engine points at."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    schema = _schema(engine_options)
    if _tables(engine, schema):
        raise BackupError("the target database is not empty: restore only into a new, empty database")
    engine.dispose()
    if engine.dialect.name == "sqlite":
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if backup_db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} is not a sound SQLite database")
            target = sqlite3.connect(engine.url.database)
            try:
                backup_db.backup(target)
            finally:
                target.close()
        finally:
            backup_db.close()
    elif engine.dialect.name == "postgresql":
        libpq, env = _pg_args(engine.url)
        args = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        done = subprocess.run([*args, f"--dbname={libpq}", str(source)], env=env, capture_output=True, text=True)  # noqa: S603 - pg_restore
        if done.returncode:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
    else:
        raise BackupError(f"no restore for {engine.dialect.name}")
