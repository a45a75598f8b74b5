"""API errors and the handlers that turn every failure into a clean response."""

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import flash, g, jsonify, redirect, render_template, request
from flask_babel import force_locale, gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.core.redact import mask
from portal.core.transaction import abandon

log = logging.getLogger(__name__)
T = TypeVar("T")


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a bilingual message."""

    def __init__(self, status, code, message, fields=None, headers=None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message  # an English msgid, translated on output
        self.fields = fields or {}
        self.headers = headers or {}


class Refused(Exception):
    """An operation declined a request: a stable code, an English msgid, per-field reasons; no HTTP.

    Operations raise it; the API answers it with the status its `kind` maps to (REFUSAL_STATUS) and
    pages flash it and go back, both in `register_errorhandlers` and both rolled back.
    """

    def __init__(self, code, message, fields=None, kind="invalid", **params):
        super().__init__(code)
        self.code = code
        self.message = message  # an English msgid, translated on output
        self.fields = fields or {}  # name -> (code, msgid[, params])
        self.kind = kind
        self.params = params


class ValidationFailed(Refused, ApiError):
    """One or more fields are invalid; each carries its own message.

    A refusal of kind "invalid" (pages flash it, the API answers 400); still an ApiError with status 400
    for views that catch ApiError around validation.
    """

    def __init__(self, fields):
        Exception.__init__(self, "invalid")
        self.code, self.message, self.fields = "invalid", "Some fields are invalid.", fields or {}
        self.kind, self.params = "invalid", {}
        self.status, self.headers = 400, {}


def attempt(call: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, Refused | None]:
    """(call's result, None), or (None, its refusal) with what it wrote abandoned: for a page that shows its form again."""
    try:
        return call(*args, **kwargs), None
    except Refused as exc:
        abandon()
        return None, exc


def invalid_field(name: str, code: str, message: str, **params: Any) -> ValidationFailed:
    """One field refused with its code and msgid (and the msgid's parameters)."""
    return ValidationFailed({name: (code, message, params)})


def field_messages(exc):
    """A refusal's translated per-field messages (or its message under "_"), for a form or a flash."""
    if not exc.fields:
        return {"_": gettext(exc.message, **getattr(exc, "params", {}))}
    return {k: gettext(v[1], **(v[2] if len(v) > 2 else {})) for k, v in exc.fields.items()}


# The one place a refusal's kind becomes an HTTP status.
REFUSAL_STATUS = {
    "invalid": 400,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "gone": 410,
    "too_large": 413,
    "too_many": 429,
}


def refusal_status(refusal: Refused) -> int:
    """The HTTP status of a refusal's kind, for a page that shows itself again with the refusal."""
    return REFUSAL_STATUS.get(refusal.kind, 400)


def refusal_page(refusal: Refused) -> tuple[str, int]:
    """The error page for a refused read (a report's period or site): its status and reasons in the page's language."""
    status = refusal_status(refusal)
    return render_template("errors/error.html", status=status, message="; ".join(field_messages(refusal).values())), status


def bilingual(msgid, **params):
    """The same message in English and Chinese, for API bodies and device displays."""
    out = {}
    for lang in ("en", "zh"):
        with force_locale(lang):
            out[lang] = gettext(msgid, **params)
    return out


def error_body(code, message, fields=None):
    """JSON body of an error: code, message in the request's language, both languages."""
    texts = bilingual(message) if isinstance(message, str) else message
    body = {"error": {"code": code, "message": texts.get(_lang(), texts["en"]), "messages": texts}}
    if fields:
        body["error"]["fields"] = {
            name: {"code": f[0], "messages": bilingual(f[1], **(f[2] if len(f) > 2 else {}))} for name, f in fields.items()
        }
    return body


def _lang():
    best = request.accept_languages.best_match(["zh", "en"]) if request else None
    return best or "zh"


def _same_site_referrer():
    """The page the refused form came from, only if it is on this site."""
    ref = request.referrer
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def back_to(url):
    """Where a refused page action goes back to (browsers send no Referer here); returns the url for the success path."""
    g.refused_back = url
    return url


def wants_json():
    """API paths, pass live data and non-HTML clients get JSON errors."""
    path = request.path
    if path.startswith("/api/") or path.endswith("/live"):
        return True
    accept = request.accept_mimetypes
    return accept.best == "application/json"


def register_errorhandlers(app):
    """Every error, including unexpected ones, gets a proper body and status."""

    @app.errorhandler(ApiError)
    def _api_error(exc):
        if getattr(exc, "keep_changes", False):
            g.keep_changes = True  # e.g. a failed-login counter must persist
        else:
            abandon()
        resp = jsonify(error_body(exc.code, exc.message, exc.fields))
        resp.status_code = exc.status
        for k, v in exc.headers.items():
            resp.headers[k] = v
        return resp

    @app.errorhandler(Refused)
    def _refused(exc):
        abandon()  # and the commit hook commits nothing, though a refused page action redirects
        if wants_json():
            texts = bilingual(exc.message, **exc.params)
            return jsonify(error_body(exc.code, texts, exc.fields)), refusal_status(exc)
        flash("; ".join(field_messages(exc).values()), "error")
        return redirect(g.get("refused_back") or _same_site_referrer() or request.path)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        log.warning("csrf failure path=%r", mask(request.path))
        if wants_json():
            return jsonify(error_body("csrf", "The form expired or was not sent from this site.")), 403
        message = gettext("The form expired or was not sent from this site. Go back, reload and try again.")
        return render_template("errors/error.html", status=403, message=message), 403

    @app.errorhandler(HTTPException)
    def _http(exc):
        code = (exc.name or "error").lower().replace(" ", "_")
        headers = dict(exc.get_response().headers) if exc.code == 429 else {}
        if wants_json():
            resp = jsonify(error_body(code, exc.name or "Error"))
            resp.status_code = exc.code or 500
        else:
            # The page says what the status means in the page's language (exc.name is Werkzeug's English).
            resp = app.make_response((render_template("errors/error.html", status=exc.code, message=None), exc.code))
        for k in ("Retry-After", "Allow"):
            if k in headers:
                resp.headers[k] = headers[k]
        return resp

    @app.errorhandler(OverflowError)
    def _overflow(exc):
        # SQLite cannot bind integers beyond 64 bits; such input is bad input, not our failure.
        abandon()
        log.warning("number out of range on %s", mask(request.path))
        if wants_json():
            return jsonify(error_body("out_of_range", "A number in the request is out of range.")), 400
        return render_template("errors/error.html", status=400, message=gettext("A number in the request is out of range.")), 400

    @app.errorhandler(Exception)
    def _unexpected(exc):
        abandon()
        log.exception("unhandled error on %s", mask(request.path))
        if wants_json():
            return jsonify(error_body("internal", "Something went wrong on our side.")), 500
        return render_template("errors/error.html", status=500, message=gettext("Something went wrong on our side.")), 500
