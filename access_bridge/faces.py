"""Faces for the bridge: the terminal JPEG of a pass."""

from __future__ import annotations


def face_jpeg_for_pass(session, pass_id) -> bytes | None:
    """The terminal-ready JPEG of a pass, or None (no consent, withdrawn, nothing enrolled, pass ended)."""
    from portal.faces.models import FaceConsent, FaceImage, FaceTemplate
    from portal.passes.models import Pass

    p = session.get(Pass, pass_id)
    if p is None or p.state() not in ("active", "pending"):
        return None
    row = session.get(FaceImage, pass_id)
    template = session.query(FaceTemplate).filter_by(pass_id=pass_id).one_or_none()
    if row is None or template is None:
        return None
    consent = session.get(FaceConsent, template.consent_id)
    if consent is None or consent.withdrawn_at is not None:
        return None
    return row.jpeg
