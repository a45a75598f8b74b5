"""Security headers on every response, the CSRF policy, and characters no input may carry."""

import re

from flask import current_app, jsonify, render_template, request
from flask_babel import gettext

from portal.core.errors import error_body, wants_json
from portal.core.lean import keep
from portal.extensions import csrf

# NUL and lone UTF-16 surrogates are never valid text: PostgreSQL refuses them (a 500 before this check) and
# they cannot be encoded as UTF-8. Paired surrogates in JSON ("\ud83d\ude00") decode to one character and pass.
BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
# In a JSON body they can only arrive escaped (a raw NUL is invalid JSON, refused by json_body).
_JSON_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
BAD_INPUT_MESSAGE = "The request contains characters that are not allowed."

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)

# On every response unless the view set its own.
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(self), geolocation=(), microphone=()"),
)


def _has_bad(value) -> bool:
    """True when a string anywhere in a decoded JSON value holds NUL or a lone surrogate."""
    if isinstance(value, str):
        return _bad(value)
    if isinstance(value, dict):
        return any(_has_bad(k) or _has_bad(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_bad(v) for v in value)
    return False


def _bad(*texts) -> bool:
    return any(isinstance(t, str) and BAD_CHARS.search(t) is not None for t in texts)


def bad_request_line() -> bool:
    """True when the path, query string or Authorization header carry NUL or a lone surrogate."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup: every request runs this
    if _bad(req.path, req.environ.get("HTTP_AUTHORIZATION")):
        return True
    return bool(req.environ.get("QUERY_STRING")) and any(_bad(k, v) for k, v in req.args.items(multi=True))


def plain_request(environ, raw: bytes) -> bool:
    """True when nothing needs the full checks: no query string, no form body, no bad character in the
    Authorization header, no escape in the body."""
    return (
        not environ.get("QUERY_STRING")
        and _mimetype(environ) not in ("application/x-www-form-urlencoded", "multipart/form-data")
        and not _bad(environ.get("HTTP_AUTHORIZATION"))
        and not _JSON_ESCAPES.search(raw)
    )


def _mimetype(environ) -> str:
    """The request's media type, lower case and without parameters (request.mimetype without parsing them)."""
    return environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()


def bad_body() -> bool:
    """True when the form, a file name or the JSON body carry NUL or a lone surrogate."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    if _mimetype(req.environ) in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return any(_bad(k, v) for k, v in request.form.items(multi=True)) or any(
            _bad(k, f.filename) for k, f in request.files.items(multi=True)
        )
    raw = req.get_data(cache=True)
    if raw and _JSON_ESCAPES.search(raw):  # rare: only then decode to tell a lone surrogate from a pair
        from portal.core.jsonbody import json_or_none

        return _has_bad(json_or_none(raw))
    return False


def _refusal():
    if wants_json():
        return jsonify(error_body("bad_characters", BAD_INPUT_MESSAGE)), 400
    return render_template("errors/error.html", status=400, message=gettext(BAD_INPUT_MESSAGE)), 400


@keep
def _refuse_bad_request_line():
    return _refusal() if bad_request_line() else None


@keep
def _refuse_bad_body():
    return _refusal() if bad_body() else None


def bearer_claimed() -> bool:
    """True when the request names a bearer token: an Authorization header "Bearer <token>" with a token."""
    return _names_bearer(request.environ.get("HTTP_AUTHORIZATION", ""))


def _names_bearer(header: str) -> bool:
    scheme, _, token = header.strip().partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


@keep
def _refuse_blank_authorization():
    # A present but blank Authorization header, or a bare "Bearer", must not pass as a bearer call (which
    # skips CSRF) and then fall back to the session cookie: it is refused outright. Other schemes (a proxy's
    # Basic auth) are left alone: they are not bearer calls, so CSRF applies to them.
    header = request.environ.get("HTTP_AUTHORIZATION")
    if header is None or _names_bearer(header):
        return None
    if header.strip() and header.strip().split()[0].lower() != "bearer":
        return None
    if wants_json():
        return jsonify(error_body("unauthorized", "Log in first.")), 401
    return render_template("errors/error.html", status=401, message=gettext("Log in first.")), 401


def register_security(app):
    """Bad characters refused first; CSRF on every state change except bearer-token API calls; headers everywhere."""
    # First of all hooks: nothing (session loading, token lookup) may read such a path, query or header.
    app.before_request_funcs.setdefault(None, [])[:0] = [_refuse_bad_request_line, _refuse_blank_authorization]
    # The body only after the features' per-route upload caps (registered before this) and before CSRF reads
    # the form: parsing it first would read an oversized upload whole.
    app.before_request(_refuse_bad_body)

    @app.before_request
    def _csrf():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        # Bearer-token requests carry no ambient cookie authority, so CSRF cannot apply;
        # the device and callback endpoints opt out explicitly with csrf.exempt.
        if bearer_claimed():
            return
        view = app.view_functions.get(request.endpoint)
        if view is not None and f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
            return
        csrf.protect()

    @app.after_request  # not on the lean path: lean.PortalFlask adds the same headers as it writes the answer
    def _headers(response):
        # A header the view set itself wins. One pass over the names, not a setdefault (a scan) per header.
        present = {name.lower() for name, _ in response.headers.items()}
        response.headers.extend([(name, value) for name, value, lower in answer_headers(request.environ) if lower not in present])
        return response

    app.answer_headers = answer_headers


_WANTED: dict[tuple[bool, bool], tuple[tuple[str, str, str], ...]] = {}


def answer_headers(environ):
    """(name, value, lower-case name) of the security headers an answer to this request carries unless it set its own."""
    secure = environ.get("wsgi.url_scheme") in ("https", "wss") or bool(current_app.config.get("PREFER_HTTPS"))
    key = (secure, environ.get("PATH_INFO", "").startswith("/static/"))
    found = _WANTED.get(key)
    if found is None:
        wanted = list(HEADERS)
        if secure:
            wanted.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        if not key[1]:
            wanted.append(("Cache-Control", "no-store"))
        found = _WANTED[key] = tuple((name, value, name.lower()) for name, value in wanted)
    return found
