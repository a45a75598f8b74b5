"""API errors and the handlers that turn every failure into a clean response."""
import logging

from flask import g, jsonify, render_template, request
from flask_babel import force_locale, gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.extensions import db

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a bilingual message."""

    def __init__(self, status, code, message, fields=None, headers=None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message  # an English msgid, translated on output
        self.fields = fields or {}
        self.headers = headers or {}


class ValidationFailed(ApiError):
    """One or more fields are invalid; each carries its own message."""

    def __init__(self, fields):
        super().__init__(400, "invalid", "Some fields are invalid.", fields=fields)


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
            name: {"code": f[0], "messages": bilingual(f[1], **(f[2] if len(f) > 2 else {}))}
            for name, f in fields.items()
        }
    return body


def _lang():
    best = request.accept_languages.best_match(["zh", "en"]) if request else None
    return best or "zh"


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
            db.session.rollback()
        resp = jsonify(error_body(exc.code, exc.message, exc.fields))
        resp.status_code = exc.status
        for k, v in exc.headers.items():
            resp.headers[k] = v
        return resp

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        log.warning("csrf failure path=%r", request.path)
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
        db.session.rollback()
        log.warning("number out of range on %s", request.path)
        if wants_json():
            return jsonify(error_body("out_of_range", "A number in the request is out of range.")), 400
        return render_template("errors/error.html", status=400, message=gettext("A number in the request is out of range.")), 400

    @app.errorhandler(Exception)
    def _unexpected(exc):
        db.session.rollback()
        log.exception("unhandled error on %s", request.path)
        if wants_json():
            return jsonify(error_body("internal", "Something went wrong on our side.")), 500
        return render_template("errors/error.html", status=500, message=gettext("Something went wrong on our side.")), 500
