"""The request's unit of work, ended in one place: committed after a request that succeeded, rolled back otherwise."""

import logging

from flask import g, request
from flask.wrappers import Response

from portal.core.redact import mask
from portal.extensions import db

log = logging.getLogger(__name__)


def finish(response: Response) -> Response:
    """The request hook: commit what a request that succeeded wrote; roll back a failed or refused one."""
    keep = g.pop("keep_changes", False)
    refused = g.pop("refused", False)
    if not db.session.registry.has():
        return response  # no session was made (a gate rescan, the bare floor): asking would make one
    session = db.session()
    if not session.in_transaction():
        return response  # the request never used the session (the gate's reads, static pages): nothing to end
    if (response.status_code < 400 and not refused) or keep:
        try:
            session.commit()
        except Exception:
            session.rollback()
            log.exception("commit failed on %s", mask(request.path))
            raise
    else:
        session.rollback()
    return response


def abandon() -> None:
    """End a refused or failed unit of work now, so what the answer shows reads nothing it half wrote.

    The request hook then commits nothing of this request, even when the answer is a redirect or a 200.
    """
    g.refused = True
    if db.session.registry.has():
        db.session.rollback()
