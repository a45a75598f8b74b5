"""Database triggers that announce every change which could turn a cached QR grant into a denial.

PostgreSQL: NOTIFY on CHANNEL; SQLite: the gate_cache_epoch counter (docs/gate.md, "The decision cache", says why).
"""

from sqlalchemy import Column, Integer, MetaData, Table, event, text

CHANNEL = "gate_cache"

# Table -> (columns whose UPDATE matters, or None for any change including INSERT). A change here needs a
# migration that drops the old triggers and creates the new ones (drop_statements, create_statements).
WATCHED = {
    "passes": (
        "site_id",
        "status",
        "valid_from",
        "valid_until",
        "timezone",
        "max_entries",
        "schedule",
        "gate_ids",
        "floors",
        "visitor_id_idx",
        "visitor_phone_idx",
        "plate",
    ),
    "watchlist": None,
    "api_tokens": ("token_hash", "kind", "device_id", "expires_at", "revoked_at"),
    "devices": ("site_id", "gate_ids", "kind", "status"),
    # Not a cached row, but a retired key must stop verifying in every worker, not after its 30 s reload.
    "signing_keys": ("site_id", "status", "public_key"),
}
# What the first migration (a4f0c7d2e913) installed.
FIRST_TABLES = ("passes", "watchlist", "api_tokens", "devices")
EPOCH_TABLE = "gate_cache_epoch"


def epoch_table(metadata):
    """The one-row counter SQLite's triggers bump (declared on the app's metadata)."""
    return Table(EPOCH_TABLE, metadata, Column("id", Integer, primary_key=True), Column("n", Integer, nullable=False))


def _events(columns):
    """(trigger name suffix, SQL event clause) pairs for one watched table."""
    if columns is None:
        return [("i", "INSERT"), ("u", "UPDATE"), ("d", "DELETE")]
    return [("u", f"UPDATE OF {', '.join(columns)}"), ("d", "DELETE")]


# The payload names the schema: deployments (or test workers) sharing one database in schemas of their own
# hear each other on the channel, and each empties its cache only for changes in a schema of its search path.
NOTIFY_FUNCTION = (
    "CREATE OR REPLACE FUNCTION gate_cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME); RETURN NULL; END $$"
)


def concerns(payload, schemas):
    """Whether a notification (schema.table; a bare table name from triggers made before) may be about our tables.

    schemas is the listener's search path (current_schemas(false)): a table it reads may live in any of them.
    """
    owner, dot, _ = payload.rpartition(".")  # our table names have no dot; a quoted schema name may
    return not dot or not schemas or owner in schemas


def create_statements(dialect_name, tables=None):
    """The DDL that installs the triggers of tables (default: all of WATCHED) on this dialect (tables must exist).

    Each migration passes its own table list, so a later change to WATCHED never changes which triggers an
    older migration creates. (The function they call is always today's NOTIFY_FUNCTION: its last migration,
    b7e2d4c6a8f1, sets the same body, so the schema ends the same either way.)
    """
    watched = {table: WATCHED[table] for table in (tables or WATCHED)}
    if dialect_name == "postgresql":
        found = [NOTIFY_FUNCTION]
        for table, columns in watched.items():
            for suffix, clause in _events(columns):
                found.append(
                    f"CREATE TRIGGER gate_cache_{table}_{suffix} AFTER {clause} ON {table} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION gate_cache_changed()"
                )
        return found
    # Constant table and column names only (WATCHED above): nothing here comes from a request.
    found = [f"INSERT INTO {EPOCH_TABLE} (id, n) SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM {EPOCH_TABLE})"]  # noqa: S608
    for table, columns in watched.items():
        for suffix, clause in _events(columns):
            bump = f"UPDATE {EPOCH_TABLE} SET n = n + 1 WHERE id = 1"  # noqa: S608
            found.append(f"CREATE TRIGGER gate_cache_{table}_{suffix} AFTER {clause} ON {table} BEGIN {bump}; END")
    return found


def drop_statements(dialect_name, tables=None, function=True):
    """The DDL that removes the triggers of tables (default: all) and, with function, PostgreSQL's function."""
    watched = {table: WATCHED[table] for table in (tables or WATCHED)}
    found = [
        f"DROP TRIGGER IF EXISTS gate_cache_{table}_{suffix}" + (f" ON {table}" if dialect_name == "postgresql" else "")
        for table, columns in watched.items()
        for suffix, _ in _events(columns)
    ]
    if dialect_name == "postgresql" and function:
        found.append("DROP FUNCTION IF EXISTS gate_cache_changed()")
    return found


def _after_create(target, connection, **_):
    for statement in create_statements(connection.dialect.name):
        connection.execute(text(statement))


def install(metadata: MetaData):
    """Create the triggers whenever create_all builds the schema (tests, `make run`); migrations call create_statements."""
    if not event.contains(metadata, "after_create", _after_create):
        event.listen(metadata, "after_create", _after_create)
