"""The request's unit of work, ended in one place: committed after a request that succeeded, rolled back otherwise."""

import logging

from flask import g, request
from flask.wrappers import Response

from portal.core.redact import mask
from portal.extensions import db

log = logging.getLogger(__name__)


def finish(response: Response) -> Response:
    """The request hook: commit what a request that succeeded wrote; roll back a failed or refused one."""
    end(ok=response.status_code < 400, path=request.path)
    return response


def end(ok: bool, path: str = "-") -> None:
    """Commit the request's writes when it succeeded (ok), was not refused or asked to keep them; else roll back."""
    keep = g.pop("keep_changes", False)
    refused = g.pop("refused", False)
    if not db.session.registry.has():
        return  # no session was made (a gate rescan, the bare floor): asking would make one
    session = db.session()
    if not session.in_transaction():
        return  # the request never used the session (the gate's reads, static pages): nothing to end
    if (ok and not refused) or keep:
        try:
            session.commit()
        except Exception:
            session.rollback()
            log.exception("commit failed on %s", mask(path))
            raise
    else:
        session.rollback()


def abandon() -> None:
    """End a refused or failed unit of work now, so what the answer shows reads nothing it half wrote.

    The request hook then commits nothing of this request, even when the answer is a redirect or a 200.
    """
    g.refused = True
    if db.session.registry.has():
        db.session.rollback()
