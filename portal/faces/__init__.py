"""Faces: separate consent, selfie enrolment, terminal photos, purge, and the desk's 1:N search."""

import logging

from flask import request

from portal.core.jobs import job

log = logging.getLogger(__name__)
UPLOAD_LIMIT = 8 * 1024 * 1024 + 64 * 1024  # the photo plus the form's other fields


def init_app(app):
    """Load models, register the pages and the purge job, and cap upload sizes."""
    from portal.faces import models  # noqa: F401
    from portal.faces.routes import UPLOAD_ENDPOINTS, bp

    app.register_blueprint(bp)

    # Registered before the app's CSRF hook (which parses the form), so an oversized body is refused unread.
    @app.before_request
    def _cap_upload():
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = UPLOAD_LIMIT

    job("faces_purge", every_seconds=60)(purge_job)


def purge_job(app):
    """Erase faces of ended passes or withdrawn consent, drop old records, confirm terminal erasures."""
    from portal.extensions import db
    from portal.faces.erasure import check_acknowledgements, purge

    counts = purge()  # each site's own period (portal.privacy)
    db.session.commit()
    counts["confirmed"] = check_acknowledgements()
    db.session.commit()
    if any(counts.values()):
        log.info("faces purge %s", counts)
    return counts
