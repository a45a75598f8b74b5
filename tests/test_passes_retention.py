"""Visitor data is erased RETENTION_DAYS after the pass ends; access records stay without it."""

from datetime import timedelta

from portal.core.timeutil import utcnow
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.notify.models import Message
from portal.passes.models import Pass
from portal.passes.operations import purge_ended


def test_purge_after_retention_is_idempotent_and_keeps_events(app, world):
    now = utcnow()
    old = world.make_pass(
        visitor_name="王小明",
        visitor_phone="+8613812345678",
        visitor_id_number="11010519491231002X",
        plate="京A12345",
        notify="sms",
        valid_from=now - timedelta(days=40),
        valid_until=now - timedelta(days=31),
    )
    recent = world.make_pass(
        visitor_name="李雷",
        visitor_phone="+8613912345678",
        notify="sms",
        valid_from=now - timedelta(days=3),
        valid_until=now - timedelta(days=2),
    )
    db.session.add(AccessEvent(site_id=world.site.id, method="qr", pass_id=old.id, decision="grant", reason="ok"))
    db.session.commit()
    with app.test_request_context():
        assert purge_ended() == [old.id]
        db.session.commit()
        assert purge_ended() == []
    gone, kept = db.session.get(Pass, old.id), db.session.get(Pass, recent.id)
    assert gone.visitor_name == "—" and gone.visitor_phone is None and gone.visitor_id_number is None and gone.plate is None
    assert gone.visitor_phone_idx is None and gone.purged_at is not None
    assert kept.visitor_name == "李雷" and kept.visitor_phone == "+8613912345678"
    assert db.session.scalar(db.select(Message).where(Message.pass_id == old.id)) is None
    assert db.session.scalar(db.select(AccessEvent).where(AccessEvent.pass_id == old.id)).decision == "grant"


def test_managers_export_and_erase_on_request(client, world):
    p = world.make_pass(visitor_name="王小明", visitor_phone="+8613812345678", notify="sms")
    mh = world.token(world.manager)
    assert client.get(f"/api/v1/passes/{p.id}/export", headers=world.token(world.r1)).status_code == 403
    assert client.get(f"/api/v1/passes/{p.id}/export", headers=world.token(world.guard)).status_code == 403
    data = client.get(f"/api/v1/passes/{p.id}/export", headers=mh).get_json()
    assert data["visitor"]["phone"] == "+8613812345678" and data["sms"][0]["to"] == "+8613812345678"
    assert client.post(f"/api/v1/passes/{p.id}/erase", json={}, headers=mh).status_code == 400
    assert client.post(f"/api/v1/passes/{p.id}/erase", json={"reason": "visitor asked"}, headers=mh).status_code == 200
    gone = db.session.get(Pass, p.id)
    db.session.refresh(gone)
    assert gone.status == "revoked" and gone.visitor_phone is None and gone.visitor_name == "—"
    from portal.audit.models import AuditEntry

    actions = set(db.session.scalars(db.select(AuditEntry.action).where(AuditEntry.object_id == str(p.id))))
    assert {"pii.export", "pass.erase", "pass.revoke"} <= actions
