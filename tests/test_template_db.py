"""The per-test database is a copy of a create_all template: it must be what create_all makes."""

from conftest import TestConfig, close_app, create_app
from sqlalchemy import create_engine, text

from portal.extensions import db


def _schema(url):
    engine = create_engine(url)
    with engine.connect() as conn:
        objects = conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")).all()
        epoch = conn.execute(text("SELECT id, n FROM gate_cache_epoch")).all()
        counts = {
            name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar()  # noqa: S608 - names from sqlite_master
            for kind, name, _, _ in objects
            if kind == "table" and not name.startswith("sqlite_")
        }
    engine.dispose()
    return objects, epoch, counts


def test_copied_database_matches_a_fresh_create_all(app, tmp_path):
    copied = app.config["SQLALCHEMY_DATABASE_URI"]
    fresh_path = tmp_path / "fresh.db"
    fresh = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{fresh_path}", SERVER_NAME="portal.test")
    with fresh.app_context():
        db.create_all()
        close_app(fresh)
    objects, epoch, counts = _schema(copied)
    assert (objects, epoch, counts) == _schema(f"sqlite:///{fresh_path}")
    assert any(kind == "trigger" and name.startswith("gate_cache_") for kind, name, _, _ in objects)
    assert epoch == [(1, 0)]
