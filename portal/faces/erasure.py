"""Erasing face data: from the database at once, from terminals through the bridge, with acknowledgement."""

import logging
import secrets
import sys
from datetime import timedelta

from portal.audit.operations import record
from portal.core.timeutil import utcnow
from portal.devices.models import Device
from portal.extensions import db
from portal.faces.models import FaceConsent, FaceErasure, FaceImage, FaceIndexStamp, FaceTemplate
from portal.passes.models import Pass
from portal.privacy.queries import cutoffs

log = logging.getLogger(__name__)


def bump_stamp(site_id):
    """Tell every process's cached search matrix of this site that templates changed."""
    row = db.session.get(FaceIndexStamp, site_id)
    if row is None:
        row = FaceIndexStamp(site_id=site_id, stamp="")
        db.session.add(row)
    row.stamp = secrets.token_hex(16)


def face_terminals(p):
    """Ids of the site's face terminals that may hold this pass's face."""
    q = db.select(Device).where(Device.site_id == p.site_id, Device.kind == "face_terminal")
    return sorted(
        d.id for d in db.session.scalars(q) if not (d.gate_ids and p.gate_ids and not set(d.gate_ids) & set(p.gate_ids))
    )


def erase_face(p, reason):
    """Delete a pass's template and JPEG, move its desired state on, and track terminal acknowledgement."""
    template = db.session.scalar(db.select(FaceTemplate).where(FaceTemplate.pass_id == p.id))
    image = db.session.get(FaceImage, p.id)
    if template is None and image is None:
        return None
    for row in (template, image):
        if row is not None:
            db.session.delete(row)
    # A new version makes the bridge push the credential again without the face (or delete it).
    p.version += 1
    bump_stamp(p.site_id)
    erasure = FaceErasure(
        pass_id=p.id,
        site_id=p.site_id,
        reason=reason,
        pass_version=p.version,
        device_ids=face_terminals(p),
        acked_ids=[],
        requested_at=utcnow(),
    )
    if not erasure.device_ids:
        erasure.completed_at = erasure.requested_at
    db.session.add(erasure)
    db.session.flush()
    record("face.erase", "pass", p.id, site_id=p.site_id, reason=reason, terminals=erasure.device_ids)
    return erasure


def _device_done(device_id, pass_id, version):
    """True when the bridge has confirmed the device no longer holds this face; None if unknowable."""
    # Only when the bridge feature is installed (it loads its models, so their tables exist).
    models = sys.modules.get("portal.bridge.models")
    if models is None:
        return None
    DeviceCredential = models.DeviceCredential
    row = db.session.scalar(
        db.select(DeviceCredential).where(DeviceCredential.device_id == device_id, DeviceCredential.pass_id == pass_id)
    )
    if row is None:
        return True  # the bridge never put anything for this pass on the device
    if row.acked_state == "absent":
        return True
    # Still present: fine only once the device acknowledged the face-less version of the pass.
    return (
        row.acked_state == "present"
        and row.status == "ok"
        and row.acked_version == row.desired_version
        and row.pass_version >= version
    )


def check_acknowledgements():
    """Mark terminals that confirmed an erasure; complete the erasure when all have. Returns completions."""
    done = 0
    pending = db.session.scalars(db.select(FaceErasure).where(FaceErasure.completed_at.is_(None))).all()
    for erasure in pending:
        acked = set(erasure.acked_ids)
        for device_id in erasure.device_ids:
            if device_id in acked:
                continue
            if db.session.get(Device, device_id) is None or _device_done(device_id, erasure.pass_id, erasure.pass_version):
                acked.add(device_id)
        if acked != set(erasure.acked_ids):
            erasure.acked_ids = sorted(acked)
        if acked >= set(erasure.device_ids):
            erasure.completed_at = utcnow()
            record(
                "face.erase_confirmed",
                "pass",
                erasure.pass_id,
                site_id=erasure.site_id,
                reason=erasure.reason,
                terminals=erasure.device_ids,
            )
            done += 1
    return done


def _ended(now):
    """SQL condition: the pass can no longer be used (revoked, expired, used up)."""
    return (
        (Pass.status == "revoked") | (Pass.valid_until <= now) | (Pass.max_entries.is_not(None) & (Pass.uses >= Pass.max_entries))
    )


def purge(retention_days=None, now=None):
    """Erase faces of ended passes or withdrawn consent; drop consent records after retention. Idempotent."""
    now = now or utcnow()
    counts = {"ended": 0, "withdrawn": 0, "consents": 0, "erasures": 0}
    ended = db.session.scalars(db.select(Pass).join(FaceTemplate, FaceTemplate.pass_id == Pass.id).where(_ended(now))).all()
    ended += db.session.scalars(
        db.select(Pass)
        .join(FaceImage, FaceImage.pass_id == Pass.id)
        .where(_ended(now), Pass.id.not_in([p.id for p in ended] or [-1]))
    ).all()
    for p in ended:
        if erase_face(p, "ended") is not None:
            counts["ended"] += 1
    # Templates whose consent was withdrawn by another path (e.g. a direct database fix).
    orphans = db.session.scalars(
        db.select(Pass)
        .join(FaceTemplate, FaceTemplate.pass_id == Pass.id)
        .join(FaceConsent, FaceConsent.id == FaceTemplate.consent_id)
        .where(FaceConsent.withdrawn_at.is_not(None))
    ).all()
    for p in orphans:
        if erase_face(p, "withdrawn") is not None:
            counts["withdrawn"] += 1
    # Each site's own period for face records (portal.privacy), or one period for all when given.
    periods = (
        [(lambda column: column.is_not(None), now - timedelta(days=retention_days), retention_days)]
        if retention_days is not None
        else cutoffs("faces", now)
    )
    for sites, cutoff, _days in periods:
        old = db.session.scalars(
            db.select(FaceConsent)
            .join(Pass, Pass.id == FaceConsent.pass_id)
            .where(sites(Pass.site_id))
            .where((Pass.valid_until <= cutoff) | (Pass.revoked_at <= cutoff) | (FaceConsent.withdrawn_at <= cutoff))
        ).all()
        for consent in old:
            p = db.session.get(Pass, consent.pass_id)
            # Safety net: a template still here past retention goes too (it should have gone at the pass's end).
            erase_face(p, "retention")
            db.session.delete(consent)
            counts["consents"] += 1
        for erasure in db.session.scalars(
            db.select(FaceErasure).where(sites(FaceErasure.site_id), FaceErasure.completed_at <= cutoff)
        ):
            db.session.delete(erasure)
            counts["erasures"] += 1
    db.session.flush()
    if counts["consents"] or counts["erasures"]:
        record("face.retention_purge", "site", None, consents=counts["consents"], erasures=counts["erasures"])
    return counts
