"""gunicorn reads this from the working directory (`gunicorn wsgi:app`, `make run`): settings checked at start-up."""
import os

from portal.core.serving import hide_server_header

# The access log masks link secrets (a whole /p/<token> shows the live QR); no `Server: gunicorn` header.
logger_class = "portal.core.serving.MaskingLogger"
hide_server_header()


def on_starting(server):
    """Refuse several workers on memory://: each would count login and keypad failures on its own.

    With N workers memory:// lets N times the documented number of guesses through. db:// (the default)
    and redis:// are shared. RATELIMIT_PER_WORKER=1 accepts per-worker counts (benchmarks that never
    reach a limit).
    """
    uri = os.environ.get("RATELIMIT_STORAGE_URI", "db://")
    if server.cfg.workers > 1 and uri.startswith("memory://") and os.environ.get("RATELIMIT_PER_WORKER") != "1":
        message = (f"RATELIMIT_STORAGE_URI={uri} counts per worker, and {server.cfg.workers} workers would each "
                   "allow the full login and keypad limits: use db:// (the default) or redis://, or one worker")
        server.log.error(message)
        raise SystemExit(message)
