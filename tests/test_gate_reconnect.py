"""A PostgreSQL restart (server connections killed) never opens a gate and never sticks."""

import time
import uuid

import pytest
from conftest import World, close_app, pg_options, pg_url
from gate_support import events, reason
from sqlalchemy import create_engine, text

from portal.app import create_app
from portal.config import TestConfig
from portal.core import connections
from portal.extensions import db
from portal.passes import codes


@pytest.fixture
def named_app(pg_tables):
    """An app whose server connections carry a unique application_name, so the test kills only its own."""
    name = f"gate-reconnect-{uuid.uuid4().hex[:8]}"
    options = pg_options(pg_tables, application_name=name)
    application = create_app(
        TestConfig, SQLALCHEMY_DATABASE_URI=pg_url(), SERVER_NAME="portal.test", SQLALCHEMY_ENGINE_OPTIONS=options
    )
    with application.app_context():
        yield application, name
        close_app(application)


def _kill(name):
    engine = create_engine(pg_url())
    with engine.begin() as conn:
        killed = conn.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n"), {"n": name}
        ).scalar()
    engine.dispose()
    return killed


@pytest.mark.integration
def test_busy_connection_killed_fails_closed_once_then_recovers(named_app):
    app, name = named_app
    world = World(app)
    client = app.test_client()
    _, header = world.device()
    qr = codes.qr_text(world.make_pass(max_entries=None))
    assert reason(client, header, qr=qr) == ("grant", "ok")
    db.session.remove()
    assert _kill(name) >= 1
    # Used a moment ago, so not pinged: the request's own statement meets the dead connection and denies.
    assert reason(client, header, qr=qr) in {("deny", "error"), ("grant", "ok")}
    assert reason(client, header, qr=qr) == ("grant", "ok")
    db.session.remove()
    assert {e.reason for e in events(pass_id=None)} <= {"error"}


@pytest.mark.integration
def test_idle_connection_killed_is_pinged_and_replaced(named_app, monkeypatch):
    app, name = named_app
    world = World(app)
    client = app.test_client()
    _, header = world.device()
    qr = codes.qr_text(world.make_pass(max_entries=None))
    assert reason(client, header, qr=qr) == ("grant", "ok")
    db.session.remove()
    assert _kill(name) >= 1
    monkeypatch.setattr(connections, "IDLE_PING_SECONDS", 0.05)
    time.sleep(0.1)
    # Idle long enough to be pinged: the dead connection is replaced before the decision uses it.
    assert reason(client, header, qr=qr) == ("grant", "ok")
