"""The faces_purge job: ended passes lose their face data, old records go, terminals confirm erasure."""

from datetime import timedelta

import pytest

from portal.audit.models import AuditEntry
from portal.core.jobs import JOBS, run_once
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.faces.erasure import check_acknowledgements, purge
from portal.faces.models import FaceConsent, FaceErasure, FaceImage, FaceTemplate
from portal.passes.models import Pass
from portal.passes.operations import revoke_pass
from tests import faces_support
from tests.faces_support import enrol_direct, photo

memo_faces = faces_support.memo_faces  # the fixture, under its own name here


@pytest.fixture
def bridge_models():
    """The bridge's per-device credential table (imported before the app creates its tables)."""
    return pytest.importorskip("portal.bridge.models")


def _faces(pass_id):
    return (
        db.session.query(FaceTemplate).filter_by(pass_id=pass_id).count(),
        db.session.query(FaceImage).filter_by(pass_id=pass_id).count(),
    )


def test_job_is_registered_every_minute(app):
    fn, every = JOBS["faces_purge"]
    assert every == 60


def test_purge_erases_ended_passes_only_and_is_rerunnable(app, world, memo_faces):
    live, revoked, expired = (world.make_pass() for _ in range(3))
    for p in (live, revoked, expired):
        enrol_direct(app, p, photo("obama.jpg"))
    with app.test_request_context():
        revoke_pass(db.session.get(Pass, revoked.id), reason="test")
        db.session.get(Pass, expired.id).valid_until = utcnow() - timedelta(minutes=1)
        db.session.commit()
    run_once(app, only=["faces_purge"])
    assert _faces(live.id) == (1, 1)
    assert _faces(revoked.id) == (0, 0) and _faces(expired.id) == (0, 0)
    reasons = {e.pass_id: e.reason for e in db.session.query(FaceErasure)}
    assert reasons == {revoked.id: "ended", expired.id: "ended"}
    audited = db.session.query(AuditEntry).filter_by(action="face.erase").count()
    assert audited == 2
    run_once(app, only=["faces_purge"])  # a second run changes nothing and does not fail
    assert db.session.query(FaceErasure).count() == 2 and _faces(live.id) == (1, 1)
    # Consent records stay (they prove consent) until the retention period ends.
    assert db.session.query(FaceConsent).count() == 3


def test_used_up_pass_loses_its_face(app, world, memo_faces):
    p = world.make_pass(max_entries=1)
    enrol_direct(app, p, photo("obama.jpg"))
    db.session.get(Pass, p.id).uses = 1
    db.session.commit()
    counts = purge(30)
    db.session.commit()
    assert counts["ended"] == 1 and _faces(p.id) == (0, 0)


def test_retention_drops_consent_records_after_the_period(app, world, memo_faces):
    old = world.make_pass(valid_from=utcnow() - timedelta(days=40), valid_until=utcnow() - timedelta(days=31))
    recent = world.make_pass(valid_from=utcnow() - timedelta(days=10), valid_until=utcnow() - timedelta(days=2))
    for p in (old, recent):
        db.session.add(FaceConsent(pass_id=p.id, site_id=p.site_id, version="v", purpose="gate_entry", given_at=p.valid_from))
    db.session.commit()
    with app.test_request_context():
        counts = purge(30)
        db.session.commit()
    assert counts["consents"] == 1
    assert [c.pass_id for c in db.session.query(FaceConsent)] == [recent.id]
    assert db.session.query(AuditEntry).filter_by(action="face.retention_purge").count() == 1
    assert purge(30)["consents"] == 0


def test_terminal_erasure_is_confirmed_by_bridge_acknowledgement(bridge_models, app, world, memo_faces):
    DeviceCredential = bridge_models.DeviceCredential
    terminal, _ = world.device("face-1", kind="face_terminal", gates=[])
    p = world.make_pass()
    enrol_direct(app, p, photo("obama.jpg"))
    row = DeviceCredential(
        device_id=terminal.id,
        key=f"V{p.id}",
        pass_id=p.id,
        pass_version=p.version,
        desired="present",
        desired_version=1,
        acked_version=1,
        acked_state="present",
        status="ok",
    )
    db.session.add(row)
    with app.test_request_context():
        revoke_pass(db.session.get(Pass, p.id), reason="test")
        db.session.commit()
    run_once(app, only=["faces_purge"])
    erasure = db.session.query(FaceErasure).filter_by(pass_id=p.id).one()
    assert erasure.device_ids == [terminal.id] and erasure.completed_at is None  # the terminal still has it
    # The bridge deletes the credential and the terminal acknowledges.
    row = db.session.get(DeviceCredential, row.id)
    row.desired, row.desired_version, row.acked_version, row.acked_state = "absent", 2, 2, "absent"
    db.session.commit()
    assert check_acknowledgements() == 1
    db.session.commit()
    erasure = db.session.get(FaceErasure, erasure.id)
    assert erasure.acked_ids == [terminal.id] and erasure.completed_at is not None
    assert db.session.query(AuditEntry).filter_by(action="face.erase_confirmed").count() == 1


def test_withdrawal_on_live_pass_waits_for_face_less_push(bridge_models, app, world, memo_faces):
    from portal.faces.operations import withdraw

    DeviceCredential = bridge_models.DeviceCredential
    terminal, _ = world.device("face-2", kind="face_terminal", gates=[])
    p = world.make_pass()
    enrol_direct(app, p, photo("obama.jpg"))
    p = db.session.get(Pass, p.id)
    row = DeviceCredential(
        device_id=terminal.id,
        key=f"V{p.id}",
        pass_id=p.id,
        pass_version=p.version,
        desired="present",
        desired_version=1,
        acked_version=1,
        acked_state="present",
        status="ok",
    )
    db.session.add(row)
    with app.test_request_context():
        erasure = withdraw(p)
        db.session.commit()
    assert check_acknowledgements() == 0  # the terminal still holds the version with the face
    row.pass_version, row.desired_version, row.acked_version = p.version, 2, 2
    db.session.commit()
    assert check_acknowledgements() == 1
    assert db.session.get(FaceErasure, erasure.id).completed_at is not None
