"""Writes on face data: consent, enrolment, withdrawal. Views call these only; they flush, never commit."""

import hashlib
import logging

from flask import has_request_context, request

from portal.audit.operations import record
from portal.core import crypto
from portal.core.errors import Refused
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.faces import imaging, queries
from portal.faces.erasure import bump_stamp, erase_face
from portal.faces.models import FaceConsent, FaceImage, FaceTemplate
from portal.faces.vectors import encode_vector

log = logging.getLogger(__name__)

# Bump CONSENT_VERSION whenever the consent text on templates/faces/enrol.html changes.
CONSENT_VERSION = "2025-11-v1"
PURPOSE = "gate_entry"
LIVE = ("active", "pending")


def _ip_hash():
    if not has_request_context() or not request.remote_addr:
        return None
    return crypto.blind_index("consent-ip", request.remote_addr)


def _require_live(p):
    if p.state() not in LIVE:
        raise Refused("pass_not_live", "This pass has ended, so no face can be enrolled for it.", kind="conflict")


def give_consent(p):
    """Record the visitor's explicit consent for this pass (idempotent while it stands)."""
    _require_live(p)
    current = queries.active_consent(p.id)
    if current is not None:
        return current
    consent = FaceConsent(
        pass_id=p.id, site_id=p.site_id, version=CONSENT_VERSION, purpose=PURPOSE, given_at=utcnow(), ip_hash=_ip_hash()
    )
    db.session.add(consent)
    db.session.flush()
    record("face.consent", "pass", p.id, site_id=p.site_id, version=CONSENT_VERSION, purpose=PURPOSE)
    return consent


def read_encoding(data):
    """The one face's encoding of an uploaded photo (desk search); refused, worded for a guard, when unusable."""
    try:
        im = imaging.load_photo(data)
        _, encoding = imaging.analyse(im)
    except imaging.PhotoRefused as exc:  # the visitor's wording ("your face") would mislead a guard
        raise Refused(exc.code, imaging.STAFF_MESSAGES[exc.code]) from None
    return encoding


def enrol(p, data):
    """Make the template and terminal JPEG from a selfie; needs standing consent; else refused (PhotoRefused: the photo)."""
    _require_live(p)
    consent = queries.active_consent(p.id)
    if consent is None:
        raise Refused("consent_required", "Give your consent to face entry first.", kind="forbidden")
    im = imaging.load_photo(data)
    box, encoding = imaging.analyse(im)
    jpeg, (width, height) = imaging.terminal_jpeg(im, box)
    template = queries.template_for(p.id)
    if template is None:
        template = FaceTemplate(pass_id=p.id, site_id=p.site_id)
        db.session.add(template)
    template.consent_id = consent.id
    template.encoding = encode_vector(encoding)
    template.created_at = utcnow()
    image = queries.image_for(p.id) or FaceImage(pass_id=p.id)
    image.jpeg, image.width, image.height, image.size_bytes = jpeg, width, height, len(jpeg)
    image.created_at = utcnow()
    db.session.add(image)
    # The bridge pushes the new desired state (face added) because the version moved.
    p.version += 1
    bump_stamp(p.site_id)
    db.session.flush()
    record(
        "face.enrol",
        "pass",
        p.id,
        site_id=p.site_id,
        consent_id=consent.id,
        jpeg_bytes=len(jpeg),
        photo_sha256=hashlib.sha256(data).hexdigest()[:16],
    )
    return template


def withdraw(p):
    """Withdraw consent: face data goes from the database now and from every terminal via the bridge."""
    now = utcnow()
    rows = db.session.scalars(db.select(FaceConsent).where(FaceConsent.pass_id == p.id, FaceConsent.withdrawn_at.is_(None))).all()
    for consent in rows:
        consent.withdrawn_at = now
    if rows:
        record("face.withdraw", "pass", p.id, site_id=p.site_id)
    return erase_face(p, "withdrawn") if rows else None


def has_face(p):
    """True when a template is stored for the pass."""
    return queries.template_for(p.id) is not None
