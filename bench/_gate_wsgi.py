"""The portal as gunicorn serves it in bench/gate_verify.py, plus a bare route only the bench registers.

The bare endpoint goes through the same app, hooks and server settings as /api/v1/gate/verify,
so the ratio between the two is the cost of the decision itself. bare-read adds one trivial
SELECT on the gate's read connection: the share of that cost a database round trip alone takes.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import jsonify
from sqlalchemy import literal_column, select

from portal.app import create_app
from portal.config import Config
from portal.core import reads

app = create_app(Config, SQLALCHEMY_DATABASE_URI=os.environ["BENCH_DATABASE_URL"])


def bare():
    """A constant JSON answer, the floor for any endpoint on this server."""
    return jsonify({"decision": "deny", "reason": "unknown", "floors": []})


app.add_url_rule("/bench/bare", "bench_bare", bare, methods=["GET", "POST"])

_ONE_ROW = select(literal_column("1").label("one"))


def bare_read():
    """The bare answer after one trivial SELECT on the gate's read connection: what a round trip alone costs."""
    reads.rows(_ONE_ROW)
    return bare()


app.add_url_rule("/bench/bare-read", "bench_bare_read", bare_read, methods=["POST"])

if os.environ.get("BENCH_PROFILE"):
    import atexit
    import cProfile
    import time

    # CPU time, not wall time: a send that wakes the database server on a busy core is not our work.
    _profile = cProfile.Profile(time.thread_time)
    _inner = app.wsgi_app

    class _ProfiledBody:
        """The response body, its close() profiled too: the event journal writes its batches there."""

        def __init__(self, body):
            self.body = body

        def __iter__(self):
            return iter(self.body)

        def close(self):
            _profile.enable()
            try:
                getattr(self.body, "close", lambda: None)()
            finally:
                _profile.disable()

    def _profiled(environ, start_response):
        if environ["PATH_INFO"] != "/api/v1/gate/verify":
            return _inner(environ, start_response)
        _profile.enable()
        try:
            return _ProfiledBody(_inner(environ, start_response))
        finally:
            _profile.disable()

    app.wsgi_app = _profiled
    atexit.register(lambda: _profile.dump_stats(f"{os.environ['BENCH_PROFILE']}.{os.getpid()}"))
