"""Backup while gates verify, restore into an empty database: the same passes open, the revoked stay shut."""

import json
import threading
import uuid

import pytest
from conftest import close_app, pg_url, skip_unless
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal.app import create_app
from portal.config import TestConfig
from portal.extensions import db
from portal.passes import codes
from portal.passes.operations import revoke_pass


def _community(world):
    """Two live passes and a revoked one, a gate device; their QR texts and the device's header."""
    live = [world.make_pass(), world.make_pass(host=world.r2)]
    gone = world.make_pass()
    with world.app.test_request_context():
        revoke_pass(gone, by=world.r1, reason="plans changed")
        db.session.commit()
    _, header = world.device()
    return [codes.qr_text(p) for p in live], codes.qr_text(gone), header


def _verify(client, header, qr):
    data = client.post("/api/v1/gate/verify", json={"qr": qr}, headers=header).get_json()
    return data["decision"], data["reason"]


def _backup_while_verifying(app, dest, qr, header):
    """Run `flask backup` while another thread keeps asking the gate; returns the answers it got."""
    answers, stop, warm = [], threading.Event(), threading.Event()

    def gate():
        with app.app_context():
            client = app.test_client()
            while not stop.is_set():
                answers.append(_verify(client, header, qr))
                if len(answers) >= 3:
                    warm.set()
            db.session.remove()

    thread = threading.Thread(target=gate)
    thread.start()
    try:
        assert warm.wait(30)
        result = app.test_cli_runner().invoke(args=["backup", str(dest)])
        assert result.exit_code == 0, result.output
        seen = len(answers)
        while len(answers) < seen + 3 and thread.is_alive():
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(30)
    assert json.loads(result.output)["bytes"] > 0
    return answers


def _restored_answers(restored, source, live, gone, header):
    runner = restored.test_cli_runner()
    result = runner.invoke(args=["restore", str(source)])
    assert result.exit_code == 0, result.output
    client = restored.test_client()
    answers = [_verify(client, header, qr) for qr in live] + [_verify(client, header, gone)]
    again = runner.invoke(args=["restore", str(source)])
    assert again.exit_code != 0 and "not empty" in again.output  # never merged into a live database
    return answers


def test_sqlite_backup_during_verifies_restores_into_an_empty_database(app, world, tmp_path):
    live, gone, header = _community(world)
    dest = tmp_path / "portal-backup.db"
    answers = _backup_while_verifying(app, dest, live[0], header)
    assert set(answers) == {("grant", "ok")}
    refused = app.test_cli_runner().invoke(args=["restore", str(dest)])
    assert refused.exit_code != 0 and "not empty" in refused.output

    restored = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/restored.db", SERVER_NAME="portal.test")
    with restored.app_context():
        try:
            got = _restored_answers(restored, dest, live, gone, header)
        finally:
            close_app(restored)
    assert got == [("grant", "ok"), ("grant", "ok"), ("deny", "revoked")]


@pytest.mark.integration
def test_postgresql_backup_during_verifies_restores_into_an_empty_database(pg_app, pg_world, pg_tables, tmp_path):
    import shutil

    skip_unless(shutil.which("pg_dump") and shutil.which("pg_restore"), "pg_dump/pg_restore not installed")
    live, gone, header = _community(pg_world)
    dest = tmp_path / "portal.dump"
    answers = _backup_while_verifying(pg_app, dest, live[0], header)
    assert set(answers) == {("grant", "ok")}

    name = f"r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        restored = create_app(
            TestConfig,
            SQLALCHEMY_DATABASE_URI=make_url(pg_url()).set(database=name).render_as_string(hide_password=False),
            SERVER_NAME="portal.test",
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-csearch_path={pg_tables}"}},
        )
        with restored.app_context():
            try:
                got = _restored_answers(restored, dest, live, gone, header)
            finally:
                close_app(restored)
        assert got == [("grant", "ok"), ("grant", "ok"), ("deny", "revoked")]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
