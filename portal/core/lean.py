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
from collections.abc import Callable
from itertools import chain
from typing import Any

from flask import Flask, g, request
from flask.ctx import RequestContext, _cv_app, _cv_request
from flask.helpers import _split_blueprint_path
from flask.sansio.scaffold import _sentinel

from portal.core.routing import LazyRule

# (method, path) of the lean routes; api_route adds the device-token routes (static paths only).
ROUTES: set[tuple[str, str]] = set()
# (method, path) -> the handler that answers its ordinary requests directly (portal.core.direct).
DIRECT: dict[tuple[str, str], Callable] = {}
_FLAG = "portal.lean"
# Statuses whose headers werkzeug's get_wsgi_headers rewrites (no body, or a body it must not describe).
_BODYLESS = frozenset((204, 304, 412))
_PLAIN = frozenset(("location", "content-location"))  # headers werkzeug rewrites (IRI to URI)


def route(method: str, path: str, direct: Callable | None = None) -> None:
    """Serve method + path on the lean path (called by api_route for auth="device"), first offered to direct."""
    if "<" in path:
        raise ValueError(f"lean routes are matched by exact path: {path}")
    ROUTES.add((method.upper(), path))
    if direct is not None:
        DIRECT[(method.upper(), path)] = direct


def fresh_g() -> None:
    """Empty g: Flask reuses an outer app context (scripts, tests) for requests, and with it g."""
    for key in list(g):
        g.pop(key, None)


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


class LeanContext(RequestContext):
    """A request context for a lean route: the rule is known from the exact path, so nothing is matched.

    Werkzeug's URL adapter (binding the map to the request, then matching) is built only if something
    asks for it (url_for); the session is the null session, never opened from a cookie.
    """

    def __init__(self, app, environ, request=None, session=None, rule=None):
        if request is None:
            request = app.request_class(environ)
            request.json_module = app.json
            request.url_rule, request.view_args = rule, {}
        self.app = app
        self.request = request
        self._url_adapter = None
        self.flashes = None
        self.session = session if session is not None else app.session_interface.make_null_session(app)
        self._after_request_functions = []
        self._cv_tokens = []
        self.lean_hooks = app.lean_hooks(request.url_rule)

    @property
    def url_adapter(self):
        """Werkzeug's adapter for this request, for url_for; not needed to route it."""
        if self._url_adapter is None:
            self._url_adapter = self.app.create_url_adapter(self.request)
        return self._url_adapter

    @url_adapter.setter
    def url_adapter(self, value):
        self._url_adapter = value

    def push(self) -> None:
        """Flask's push without opening a session or matching the URL (both are settled already)."""
        app_ctx = _cv_app.get(None)
        if app_ctx is None or app_ctx.app is not self.app:
            app_ctx = self.app.app_context()
            app_ctx.push()
        else:
            app_ctx = None
        self._cv_tokens.append((_cv_request.set(self), app_ctx))


class PortalFlask(Flask):
    """Flask, except that a lean route's request has no session and runs only the hooks marked @keep."""

    url_rule_class = LazyRule  # URL builders written on first use (portal.core.routing)

    # request -> ((name, value, lower-case name), ...): headers every answer carries unless it set its own
    # (portal.core.security registers its security headers). A lean answer gets them as it is written,
    # as plain tuples, instead of through an after-request hook and werkzeug's per-header checks.
    answer_headers: Callable[[Any], tuple[tuple[str, str, str], ...]] | None = None
    # portal.core.direct.serve (set by the app factory): answers a direct route's ordinary requests.
    serve_direct: Callable[..., Any] | None = None

    def _lean_rule(self, environ):
        """The url rule of a lean route for this method and exact path, or None (every other request)."""
        key = (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
        if key not in ROUTES:
            return None
        rules = self.__dict__.setdefault("_lean_rules", {})
        rule = rules.get(key)
        if rule is None:
            found = [r for r in self.url_map.iter_rules() if r.rule == key[1] and key[0] in (r.methods or ())]
            if len(found) != 1:
                return None  # not a route of this app (or an ambiguous one): Flask routes it as usual
            rule = rules[key] = found[0]
        return rule

    def request_context(self, environ):
        """A lean context (null session, rule already known) for a lean route, else Flask's own."""
        rule = self._lean_rule(environ)
        if rule is None:
            return super().request_context(environ)
        environ[_FLAG] = True
        return LeanContext(self, environ, rule=rule)

    def wsgi_app(self, environ, start_response):
        """Flask's wsgi_app; a lean route's answer is written without werkzeug's general header rewriting."""
        key = (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
        if key not in ROUTES:
            return super().wsgi_app(environ, start_response)
        handler = DIRECT.get(key)
        if handler is not None and self.serve_direct is not None:
            answer = self.serve_direct(self, handler, environ, start_response)
            if answer is not None:
                return answer
        ctx = self.request_context(environ)
        error: BaseException | None = None
        try:
            try:
                ctx.push()
                response = self.full_dispatch_request()
            except Exception as e:
                error = e
                response = self.handle_exception(e)
            except:  # Flask's own: record any BaseException for the teardown, then re-raise
                error = sys.exc_info()[1]
                raise
            return self._respond(response, environ, start_response)
        finally:
            if "werkzeug.debug.preserve_context" in environ:
                environ["werkzeug.debug.preserve_context"](_cv_app.get())
                environ["werkzeug.debug.preserve_context"](_cv_request.get())
            if error is not None and self.should_ignore_error(error):
                error = None
            ctx.pop(error)

    def lean_hooks(self, rule):
        """(before, after, teardown): the marked hooks for a lean rule's blueprints, in Flask's order; worked out once."""
        cache = self.__dict__.setdefault("_lean_hooks", {})
        found = cache.get(rule.endpoint)  # the blueprints follow from the endpoint
        if found is None:
            names = _blueprints(rule.endpoint)
            found = cache[rule.endpoint] = (
                _kept(self.before_request_funcs, (None, *reversed(names)), reverse=False),
                _kept(self.after_request_funcs, (*names, None), reverse=True),
                _kept(self.teardown_request_funcs, (*names, None), reverse=True),
            )
        return found

    def preprocess_request(self):
        """Flask's before-request hooks, or on the lean path only the marked ones (url value preprocessors: none)."""
        hooks = getattr(_cv_request.get(None), "lean_hooks", None)
        if hooks is None:
            return super().preprocess_request()
        for func in hooks[0]:
            rv = func()
            if rv is not None:
                return rv
        return None

    def process_response(self, response):
        """Flask's after-request hooks and session save, or on the lean path only the marked hooks."""
        ctx = _cv_request.get()
        hooks = getattr(ctx, "lean_hooks", None)
        if hooks is None:
            return super().process_response(response)
        for func in chain(ctx._after_request_functions, hooks[1]):
            response = func(response)
        return response

    def do_teardown_request(self, exc=_sentinel):
        """Flask's teardown, or on the lean path only the marked teardown hooks (the limiter's is not)."""
        hooks = getattr(_cv_request.get(None), "lean_hooks", None)
        if hooks is None:
            return super().do_teardown_request(exc)
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        for func in hooks[2]:
            func(exc)
        return None

    def _respond(self, response, environ, start_response):
        """response(environ, start_response) plus the answer headers, minus werkzeug's copy and re-check of every header.

        werkzeug's get_wsgi_headers copies the headers (validating each again) to fix up Location and
        Content-Length; a lean answer with a body and its length set needs neither. Anything else goes
        through werkzeug as usual.
        """
        extra = self.answer_headers(environ) if self.answer_headers is not None else ()
        wsgi = response.headers.to_wsgi_list()
        present = {name.lower() for name, _ in wsgi}
        missing = [(name, value) for name, value, lower in extra if lower not in present]
        status = response.status_code
        if status in _BODYLESS or status < 200 or "content-length" not in present or not _PLAIN.isdisjoint(present):
            response.headers.extend(missing)
            return response(environ, start_response)
        wsgi.extend(missing)
        app_iter = response.get_app_iter(environ)
        start_response(response.status, wsgi)
        return app_iter


def _blueprints(endpoint):
    """The blueprint names of an endpoint, innermost first (what request.blueprints says for it)."""
    return tuple(_split_blueprint_path(endpoint.rpartition(".")[0])) if "." in endpoint else ()
