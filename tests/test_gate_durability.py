"""Which gate decisions may skip the WAL fsync on PostgreSQL, and which must wait for it."""
import pytest
from gate_support import oathtool_code, verify
from sqlalchemy import event

from portal.extensions import db
from portal.passes import codes

RELAX = "set_config"


def _statements(app):
    seen = []

    def listener(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    return seen, lambda: event.remove(engine, "before_cursor_execute", listener)


def _relaxed(app, call):
    seen, stop = _statements(app)
    try:
        data = call()
    finally:
        stop()
    return data, any(RELAX in s for s in seen)


@pytest.mark.integration
def test_only_decisions_that_guard_nothing_commit_asynchronously(pg_app, pg_world):
    client = pg_app.test_client()
    _, header = pg_world.device("reader")
    unlimited = pg_world.make_pass(max_entries=None)
    single = pg_world.make_pass(max_entries=1)

    # A grant on an unlimited pass without direction, and a denial, change nothing a later decision reads.
    data, relaxed = _relaxed(pg_app, lambda: verify(client, header, qr=codes.qr_text(unlimited))[1])
    assert data["decision"] == "grant" and relaxed
    data, relaxed = _relaxed(pg_app, lambda: verify(client, header, qr="garbage")[1])
    assert data["reason"] == "bad_signature" and relaxed

    # Taking a limited entry, moving anti-passback or accepting a TOTP step must survive a crash.
    data, relaxed = _relaxed(pg_app, lambda: verify(client, header, qr=codes.qr_text(single))[1])
    assert data["decision"] == "grant" and not relaxed
    data, relaxed = _relaxed(pg_app, lambda: verify(client, header, qr=codes.qr_text(unlimited), direction="in")[1])
    assert data["decision"] == "grant" and not relaxed
    coded = pg_world.make_pass(max_entries=None)
    data, relaxed = _relaxed(pg_app, lambda: verify(client, header, code=oathtool_code(coded))[1])
    assert data["decision"] == "grant" and not relaxed
    # The used-up pass is now denied, and that denial may be relaxed again.
    data, relaxed = _relaxed(pg_app, lambda: verify(client, header, qr=codes.qr_text(single))[1])
    assert data["reason"] == "used_up" and relaxed
