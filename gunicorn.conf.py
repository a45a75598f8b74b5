"""gunicorn reads this from the working directory (`gunicorn wsgi:app`, `make run`): settings checked at start-up."""
import os
import shutil
import tempfile

from portal.core.logs import env_format
from portal.core.serving import hide_server_header

# Prometheus counters from every worker (portal.core.metrics) go to files in one directory, summed by
# /metrics. Set before any worker imports the app; an operator's PROMETHEUS_MULTIPROC_DIR is kept.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="portal-metrics-"))

# The access log masks link secrets (a whole /p/<token> shows the live QR); no `Server: gunicorn` header.
logger_class = "portal.core.serving.MaskingLogger"
hide_server_header()
if env_format() != "text":
    # One JSON object per request, with the id the app answered with (portal.core.logs); atoms are masked.
    access_log_format = (
        '{"ts": "%(t)s", "logger": "access", "remote": "%(h)s", "request": "%(r)s", "status": %(s)s, '
        '"bytes": "%(b)s", "ms": %(M)s, "request_id": "%({x-request-id}o)s"}'
    )


def post_worker_init(worker):
    """Freeze what loading the app made: the collector's full passes then skip those long-lived objects.

    A worker holds a couple of hundred thousand objects (modules, the ORM's mappers, the routes) that live as
    long as it does; every full collection would walk them all again while a request waits.
    """
    import gc

    gc.freeze()  # no collection first: one here found nothing to free (wsgi.py loads the app with it off) and took 90 ms


def child_exit(server, worker):
    """A dead worker's live gauges (open desk streams) stop counting; its counters stay in the totals."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _fresh_metrics_dir():
    """Start with an empty metrics directory: files of a previous run would add old counts to the new ones."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        full = os.path.join(path, name)
        shutil.rmtree(full) if os.path.isdir(full) else os.unlink(full)


def on_starting(server):
    """Empty the metrics directory; refuse several workers on memory:// (each would count failures on its own).

    With N workers memory:// lets N times the documented number of guesses through. db:// (the default)
    and redis:// are shared. RATELIMIT_PER_WORKER=1 accepts per-worker counts (benchmarks that never
    reach a limit).
    """
    _fresh_metrics_dir()
    uri = os.environ.get("RATELIMIT_STORAGE_URI", "db://")
    if server.cfg.workers > 1 and uri.startswith("memory://") and os.environ.get("RATELIMIT_PER_WORKER") != "1":
        message = (f"RATELIMIT_STORAGE_URI={uri} counts per worker, and {server.cfg.workers} workers would each "
                   "allow the full login and keypad limits: use db:// (the default) or redis://, or one worker")
        server.log.error(message)
        raise SystemExit(message)
