"""Every row of a test database, kept once and put back into another test's database (SQLite or PostgreSQL).

A test that needs an expensive world (the every-page walk's seed, the fuzz's objects) builds it once,
takes a Snapshot, and later tests restore it instead of building it again. Restoring replaces all rows
and sequence positions, so a test sees exactly the rows the first one had, whatever that one changed.
"""

import sqlite3
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from portal.extensions import db


class Snapshot:
    """The rows of the current app's database (taken inside its app context, after a commit)."""

    def __init__(self):
        db.session.commit()
        if db.engine.dialect.name == "sqlite":
            self.copy = sqlite3.connect(":memory:")
            db.session.connection().connection.driver_connection.backup(self.copy)
            db.session.rollback()
            return
        self.copy = f"s_{uuid.uuid4().hex[:12]}"
        with db.engine.begin() as conn:
            self.tables = conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
            ).all()
            conn.exec_driver_sql(f'CREATE SCHEMA "{self.copy}"')
            conn.exec_driver_sql("; ".join(f'CREATE TABLE "{self.copy}"."{t}" AS TABLE "{t}"' for t in self.tables))
            # (name, value, called): a sequence not yet used has no last_value and restarts at 1.
            self.sequences = [
                (name, value or 1, value is not None)
                for name, value in conn.execute(
                    text("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()")
                )
            ]
        self.url = db.engine.url

    def restore(self):
        """Make the current app's database hold the snapshot's rows; objects loaded before are gone from the session."""
        db.session.remove()
        if isinstance(self.copy, sqlite3.Connection):
            self.copy.backup(db.session.connection().connection.driver_connection)
            db.session.commit()
            return
        with db.engine.begin() as conn:
            # Replica mode skips triggers and foreign keys: rows go in whatever the order, with no gate-cache NOTIFY.
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql("; ".join(f'DELETE FROM "{t}"' for t in self.tables))  # noqa: S608 - catalogue names
            conn.exec_driver_sql(
                "; ".join(f'INSERT INTO "{t}" SELECT * FROM "{self.copy}"."{t}"' for t in self.tables)  # noqa: S608
            )
            names, values, called = (list(column) for column in zip(*self.sequences, strict=True))
            conn.execute(
                text("""SELECT setval(quote_ident(n), v, c)
                          FROM unnest(CAST(:names AS text[]), CAST(:values AS bigint[]), CAST(:called AS boolean[])) AS s(n, v, c)"""),
                {"names": names, "values": values, "called": called},
            )

    def drop(self):
        """Free what the snapshot holds (its PostgreSQL schema)."""
        if isinstance(self.copy, sqlite3.Connection):
            self.copy.close()
            return
        engine = create_engine(self.url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.copy}" CASCADE')
        engine.dispose()
