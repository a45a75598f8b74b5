"""Migrations build the schema from empty on SQLite and PostgreSQL, matching the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import pg_url
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from portal.app import create_app
from portal.config import TestConfig
from portal.extensions import db

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _diff(engine, schema=None):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_schemas": False})
        return list(compare_metadata(ctx, db.metadata))


def _check(app, engine):
    with app.app_context():
        upgrade()
        tables = set(inspect(engine).get_table_names())
        assert {"passes", "users", "sites", "audit_log", "messages", "signing_keys"} <= tables
        assert _diff(engine) == []
        downgrade(revision="base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade()


def test_sqlite_migrates_from_empty(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    _check(app, create_engine(url))


@pytest.mark.integration
def test_postgres_migrates_from_empty(pg_schema):
    opts = {"connect_args": {"options": f"-csearch_path={pg_schema}"}}
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=pg_url(), SQLALCHEMY_ENGINE_OPTIONS=opts)
    engine = create_engine(pg_url(), **opts)
    _check(app, engine)
    engine.dispose()


def test_the_command_line_loads_alembic_only_for_db_commands(tmp_path):
    """`flask … routes` (as the bridge and the other commands) starts without Alembic; `flask db -d … current` runs."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = os.environ | {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "INSTANCE_PATH": str(tmp_path)}
    probe = (
        "import sys\nfrom flask.cli import main\nsys.argv = ['flask', '--app', 'wsgi', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('alembic' in sys.modules)"
    )

    def run(*args):
        out = subprocess.run([sys.executable, "-c", probe, *args], cwd=root, env=env, capture_output=True, text=True, timeout=60)
        return out.stdout.strip().splitlines()

    assert run("routes")[-1] == "False"
    assert run("db", "upgrade")[-1] == "True"
    current = run("db", "-d", str(root / "migrations"), "current")
    assert current[-1] == "True" and any("(head)" in line for line in current), current
