"""The models on the real PostgreSQL: the whole pass path, encryption at rest, constraints."""

import pytest
from conftest import pass_body
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.passes.models import Pass

pytestmark = pytest.mark.integration


def test_pass_lifecycle_on_postgres(pg_app, pg_world):
    client = pg_app.test_client()
    h = pg_world.token(pg_world.r1)
    body = pass_body(visitor={"name": "王小明", "phone": "13812345678", "id_number": "11010519491231002X", "plate": "粤BD12345"})
    resp = client.post("/api/v1/passes", json=body, headers=h)
    assert resp.status_code == 201, resp.get_json()
    pid = resp.get_json()["id"]
    # personal data is not stored in clear
    raw = db.session.execute(text("SELECT visitor_phone, visitor_id_number FROM passes WHERE id = :i"), {"i": pid}).one()
    assert b"13812345678" not in bytes(raw[0]) and b"11010519491231002X" not in bytes(raw[1])
    p = db.session.get(Pass, pid)
    assert p.visitor_phone == "+8613812345678" and p.visitor_id_number == "11010519491231002X"
    assert p.valid_from.tzinfo is not None
    assert client.get(f"/p/{p.link_token}/qr.png").status_code == 200
    assert client.post(f"/api/v1/passes/{pid}/revoke", headers=h).get_json()["status"] == "revoked"
    assert client.get(f"/api/v1/passes/{pid}", headers=pg_world.token(pg_world.r2)).status_code == 404


def test_unique_link_hash_enforced(pg_app, pg_world):
    p = pg_world.make_pass()
    q = pg_world.make_pass(commit=False)
    q.link_hash = p.link_hash
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
