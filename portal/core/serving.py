"""What gunicorn.conf.py loads into gunicorn: an access log without link secrets, and no Server header.

A pass link (/p/<token>) shows the live QR to whoever has it, as do the host's approval and survey links;
the access log keeps only a 4-character prefix of any long url-safe run, like the SMS console
(portal.notify.backends.redact). gunicorn names itself in a Server header on every response; that tells
an attacker which server and version to try, and is dropped.
"""

import json

from gunicorn.glogging import Logger
from gunicorn.http import wsgi

from portal.core.logs import JsonFormatter, env_format
from portal.core.redact import mask

# The request id is the app's own (portal.core.logs: a sane incoming id or a new one), never a secret.
_SAFE_ATOMS = {"h", "t", "s", "m", "H", "b", "B", "T", "D", "M", "L", "p", "{x-request-id}o"}


class MaskingLogger(Logger):
    """gunicorn's logger; every text atom of the access log (request line, path, query, referer, headers) masked."""

    def setup(self, cfg):
        """gunicorn's own handlers; its error log (boots, worker deaths) as JSON lines like the app's."""
        super().setup(cfg)
        if env_format() != "text":
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())

    def atoms(self, resp, req, environ, request_time):
        """The usual atoms with link secrets masked."""
        atoms = super().atoms(resp, req, environ, request_time)
        as_json = env_format() != "text"  # gunicorn.conf.py's JSON access line
        for key, value in atoms.items():
            if key not in _SAFE_ATOMS and isinstance(value, str):
                atoms[key] = _json_text(mask(value)) if as_json else mask(value)
        return atoms


def _json_text(value):
    """value escaped for a JSON string, except its quotes: gunicorn's SafeAtoms escapes those itself."""
    return json.dumps(value, ensure_ascii=False)[1:-1].replace('\\"', '"')


def hide_server_header():
    """Stop gunicorn's responses from carrying `Server: gunicorn` (its default headers are not configurable)."""
    if getattr(wsgi.Response.default_headers, "_portal", False):
        return
    original = wsgi.Response.default_headers

    def default_headers(self):
        return [h for h in original(self) if not h.lower().startswith("server:")]

    default_headers._portal = True  # type: ignore[attr-defined]  # marks the patch as installed
    wsgi.Response.default_headers = default_headers
