"""Log lines as JSON (or text for development), each with its request's id; link secrets and phone numbers masked.

Call sites never pass names, phones, ID numbers or tokens; the formatter is the second line of defence:
long url-safe runs (pass links, bearer tokens) keep 4 characters and runs of 7 or more digits
(phone numbers, ID numbers) keep their first 3, whatever logger wrote them, tracebacks included.
"""

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime

from flask import Flask, g, has_app_context, request
from flask.wrappers import Response

from portal.core.lean import keep
from portal.core.redact import mask

# An incoming X-Request-ID is kept when it looks like an id (a proxy's or a load balancer's), else replaced.
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
NUMBERISH = re.compile(r"\+?\d[\d -]{5,}\d")


def _digits_masked(match: re.Match) -> str:
    text = match.group(0)
    return text if sum(c.isdigit() for c in text) < 7 else text[:3] + "…"


def scrub(text: str) -> str:
    """text with link secrets, tokens and long digit runs cut short."""
    return NUMBERISH.sub(_digits_masked, mask(text))


def request_id() -> str | None:
    """The id of the request being served, if any."""
    return g.get("request_id") if has_app_context() else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
            "request_id": request_id(),
        }
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines for development (LOG_FORMAT=text), masked the same way."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id()
        line = scrub(super().format(record))
        return f"{line} [{rid}]" if rid else line


def env_format() -> str:
    """LOG_FORMAT as the environment sets it for gunicorn's own lines: json, or text under PORTAL_ENV=development."""
    default = "text" if os.environ.get("PORTAL_ENV") == "development" else "json"
    return os.environ.get("LOG_FORMAT", default)


def formatter(kind: str) -> logging.Formatter:
    """The formatter LOG_FORMAT names (json unless "text")."""
    return TextFormatter() if kind == "text" else JsonFormatter()


def install(kind: str, level: str = "INFO") -> None:
    """Send the root logger's records to stderr in the chosen format, once per process.

    A root logger that already has someone else's handlers (pytest's capture) is left alone, as basicConfig would.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_portal", False)]
    if ours:
        ours[0].setFormatter(formatter(kind))
        return
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._portal = True  # type: ignore[attr-defined]  # marks the handler as installed by us
    handler.setFormatter(formatter(kind))
    root.addHandler(handler)
    root.setLevel(level)


def take_request_id(environ: dict) -> str:
    """This request's id (a sane incoming X-Request-ID, or a new one), noted in g for the log lines."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    g.request_id = incoming if SANE_ID.fullmatch(incoming) else os.urandom(16).hex()
    return g.request_id


def register_request_ids(app: Flask) -> None:
    """Give every request an id (a sane incoming X-Request-ID, or a new one) and answer with it."""

    @app.before_request
    @keep
    def _take_id() -> None:
        take_request_id(request.environ)

    @app.after_request
    @keep
    def _give_id(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
        return response
