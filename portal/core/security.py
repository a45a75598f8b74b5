"""Security headers on every response and the CSRF policy."""
from flask import request

from portal.extensions import csrf

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")


def register_security(app):
    """CSRF on every state change except bearer-token API calls; headers everywhere."""

    @app.before_request
    def _csrf():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        # Bearer-token requests carry no ambient cookie authority, so CSRF cannot apply;
        # the device and callback endpoints opt out explicitly with csrf.exempt.
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return
        view = app.view_functions.get(request.endpoint)
        if view is not None and f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
            return
        csrf.protect()

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if request.is_secure or app.config.get("PREFER_HTTPS"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if not request.path.startswith("/static/"):
            h.setdefault("Cache-Control", "no-store")
        return response
