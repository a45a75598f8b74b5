"""The lean path: device-token calls (the gate's verify) skip the request bookkeeping only pages and users need.

A reader's verify call carries a bearer device token and a JSON body, and answers JSON. It has no cookie
session, no CSRF token (bearer calls are exempt), no locale to choose (the answer is bilingual), no
remembered login and no per-address Flask-Limiter limit (keypad guesses are throttled per device and per
pass by portal.gate.throttle, inside the view). Opening and saving a session, the CSRF and limiter hooks and
flask-login's cookie refresh were most of a verify call's fixed cost, so routes declared with
`api_route(auth="device")` get a null session and run only the hooks marked `@keep`: bad characters, a
fresh g, the request id, the security headers and the one commit. docs/gate.md ("The lean path") lists them.
"""

import sys
from itertools import chain

from flask import Flask, request
from flask.ctx import RequestContext, _cv_request
from flask.sansio.scaffold import _sentinel

# (method, path) of the lean routes; api_route adds the device-token routes (static paths only).
ROUTES: set[tuple[str, str]] = set()
_FLAG = "portal.lean"


def route(method: str, path: str) -> None:
    """Serve method + path on the lean path (called by api_route for auth="device")."""
    if "<" in path:
        raise ValueError(f"lean routes are matched by exact path: {path}")
    ROUTES.add((method.upper(), path))


def keep(hook):
    """Mark a before/after/teardown hook the lean path must still run."""
    hook.lean = True
    return hook


def is_lean() -> bool:
    """True while a lean-path request is being served."""
    return bool(request.environ.get(_FLAG))


def _kept(funcs, names, reverse):
    """The marked hooks of funcs for these blueprint names, in the order Flask would run them."""
    lists = [funcs[name] for name in names if name in funcs]
    return [f for hooks in lists for f in (reversed(hooks) if reverse else hooks) if getattr(f, "lean", False)]


class PortalFlask(Flask):
    """Flask, except that a lean route's request has no session and runs only the hooks marked @keep."""

    def request_context(self, environ):
        """A null session for a lean route (nothing is read from or written to a cookie), else Flask's own."""
        if (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")) not in ROUTES:
            return super().request_context(environ)
        environ[_FLAG] = True
        return RequestContext(self, environ, session=self.session_interface.make_null_session(self))

    def preprocess_request(self):
        """Flask's before-request hooks, or on the lean path only the marked ones (url value preprocessors: none)."""
        if not is_lean():
            return super().preprocess_request()
        for func in _kept(self.before_request_funcs, (None, *reversed(request.blueprints)), reverse=False):
            rv = func()
            if rv is not None:
                return rv
        return None

    def process_response(self, response):
        """Flask's after-request hooks and session save, or on the lean path only the marked hooks."""
        if not is_lean():
            return super().process_response(response)
        hooks = _kept(self.after_request_funcs, (*request.blueprints, None), reverse=True)
        for func in chain(_cv_request.get()._after_request_functions, hooks):
            response = func(response)
        return response

    def do_teardown_request(self, exc=_sentinel):
        """Flask's teardown, or on the lean path only the marked teardown hooks (the limiter's is not)."""
        if not is_lean():
            return super().do_teardown_request(exc)
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        for func in _kept(self.teardown_request_funcs, (*request.blueprints, None), reverse=True):
            func(exc)
        return None
