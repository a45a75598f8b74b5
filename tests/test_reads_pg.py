"""The gate's read connections keep the database URL's own options (a deployment's search_path, say)."""

from urllib.parse import quote

from conftest import close_app, pg_url

from portal.app import create_app
from portal.config import TestConfig
from portal.core.reads import readers
from portal.extensions import db


def test_read_connections_keep_the_urls_options(pg_schema):
    url = f"{pg_url()}?options={quote(f'-csearch_path={pg_schema}')}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, SERVER_NAME="portal.test")
    with app.app_context():
        try:
            db.create_all()  # through the URL's search_path: the tables land in the private schema
            conn = readers(app).connection()
            assert conn.exec_driver_sql("SHOW search_path").scalar() == pg_schema
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_generic_plan"
            assert conn.exec_driver_sql("SELECT count(*) FROM sites").scalar() == 0
        finally:
            close_app(app)
