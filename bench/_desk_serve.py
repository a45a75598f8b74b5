"""gunicorn serving wsgi:app as `make run` does (portal.devserver.GUNICORN_ARGS), for bench/desk_streams.py and the tests."""

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from portal.devserver import GUNICORN_ARGS

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    """A port the kernel says is free on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What DESK_BENCH_OFF can switch off in the served app, to measure what each part of the desk's load relief is worth;
# "+nice" switches on something tried and not kept.
VARIANTS = ("memory", "coalesce", "direct", "+nice")


def variant_app():
    """wsgi:app with the parts named in DESK_BENCH_OFF (comma-separated VARIANTS) switched off, as before them."""
    from portal.desk import feed

    off = {v for v in os.environ.get("DESK_BENCH_OFF", "").split(",") if v}
    if off - set(VARIANTS):
        raise ValueError(f"DESK_BENCH_OFF: unknown {off - set(VARIANTS)}")
    if "memory" in off:  # every poll reads the table
        feed.Hub.recent_events = lambda self, *args, **kwargs: None
    if "coalesce" in off:  # the hub reads, and each stream writes, as soon as an event arrives
        feed.FLUSH_SECONDS = 0.0
    if "direct" in off:  # SQLite: the committing thread (often a request thread) reads its events for the streams
        publish = feed.after_commit_publish

        def direct(ids):
            from flask import current_app

            hub = current_app.extensions.get("desk_hub")
            if feed.mode_for(current_app) != "local":
                publish(ids)
            elif hub is not None and (hub.clients or hub.recent):
                hub.deliver(ids)

        feed.after_commit_publish = direct  # before the app is made: it registers the listener
    if "+nice" in off:  # the feed's thread at nice 10, so the OS runs request threads first
        run = feed.Hub._run

        def niced(self):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            return run(self)

        feed.Hub._run = niced
    from wsgi import app

    return app


def start(env, log_path, port, timeout=60):
    """Start gunicorn on 127.0.0.1:port; returns once the app answers (a loaded machine takes a while to import it)."""
    log = Path(log_path).open("w")  # noqa: SIM115 - the child writes to it until stop()
    spec = "bench._desk_serve:variant_app()" if env.get("DESK_BENCH_OFF") else "wsgi:app"
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            *GUNICORN_ARGS,
            "--graceful-timeout",
            "1",
            spec,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so that stop() can end the workers with it
    )
    proc.log = log
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"gunicorn did not start: {Path(log_path).read_text()[-2000:]}") from None
            time.sleep(0.1)


def stop(proc):
    """Stop gunicorn and its workers, then close its log.

    Its quick shutdown (SIGINT) first; a worker with streams open still waits out the graceful time-out for
    their threads, so after 0.3 s the whole process group is killed.
    """
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=0.3)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.log.close()
