"""Direct answers: a lean route's ordinary request answered straight from WSGI, without Flask's request machinery.

(docs/gate.md, "The direct path", says why and what it keeps.) A route registered with a direct handler
(`lean.route(method, path, handler)`) is first offered here. The handler gets the raw body and the environ
inside an app context and returns the JSON body of a 200 answer, or None when the request is anything but
ordinary (a bad body, no usable token): then nothing has been done, the body is put back and Flask's own
view answers it as before, with its error handlers. What every answer carries is the same on both paths:
the request id, the security headers and the one commit.
"""

import io
import logging
from collections.abc import Callable, Iterable

from flask.ctx import _cv_app

from portal.core import lean, logs, security, transaction
from portal.core.errors import error_body

log = logging.getLogger(__name__)
# Beyond this the request is not ordinary: the view reads it and answers 400 as usual.
MAX_BODY = 64 * 1024
Handler = Callable[[dict, bytes], tuple[bytes, Callable[[], None] | None] | None]


def _body(environ):
    """The request body (read once), or None when its length is missing or too large to read here."""
    length = environ.get("CONTENT_LENGTH")
    if not length or not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY:  # "²".isdigit() too
        return None
    raw = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(raw)  # Flask's view may still need it
    return raw


def serve(app, handler: Handler, environ, start_response) -> Iterable[bytes] | None:
    """The handler's answer written out, or None: Flask must serve this request (nothing was done)."""
    raw = _body(environ)
    if raw is None or not security.plain_request(environ, raw):
        return None
    outer = _cv_app.get(None)
    ctx = None if outer is not None and outer.app is app else app.app_context()
    if ctx is not None:
        ctx.push()
    else:
        lean.fresh_g()  # an outer context (scripts, tests) is reused, as Flask reuses it for requests
    try:
        request_id = logs.take_request_id(environ)
        try:
            answer = handler(environ, raw)
            if answer is None:
                environ["wsgi.input"].seek(0)
                return None
            body, on_close = answer
            transaction.end(ok=True)
            status = "200 OK"
        except Exception:
            transaction.end(ok=False)
            log.exception("unhandled error on a direct answer")
            body, on_close, status = _internal_error(app), None, "500 INTERNAL SERVER ERROR"
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("X-Request-ID", request_id)]
        headers.extend((name, value) for name, value, _ in security.answer_headers(environ))
    finally:
        if ctx is not None:
            ctx.pop()
    start_response(status, headers)
    return _Answer(body, on_close)


def _internal_error(app):
    """The JSON 500 the app's error handler writes (jsonify: the app's encoder, then a newline)."""
    return (app.json.dumps(error_body("internal", "Something went wrong on our side.")) + "\n").encode()


class _Answer:
    """The body, and what runs once the server has sent it (Flask's call_on_close)."""

    __slots__ = ("body", "on_close")

    def __init__(self, body, on_close):
        self.body, self.on_close = body, on_close

    def __iter__(self):
        yield self.body

    def close(self):
        if self.on_close is not None:
            self.on_close()
