"""`make run`: the portal, the access bridge and the background worker, side by side.

Runs gunicorn (threaded, so the desk's live feed streams) plus `flask bridge run` and
`flask worker run` as child processes, prints the URL and demo logins, and stops them all on Ctrl-C.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# gthread: each open desk stream holds one of a worker's threads, so DESK_STREAMS_PER_WORKER (4) stays at
# half of --threads and the other threads always serve device calls (docs/desk-stream.md). The capacity
# tests and bench/desk_streams.py start gunicorn with these same arguments.
GUNICORN_ARGS = ["--workers", "2", "--threads", "8", "--worker-class", "gthread", "--timeout", "120"]


def _demo_logins():
    # The virtualenv's own executables with fixed arguments (S603).
    out = subprocess.run(  # noqa: S603
        [str(BIN / "flask"), "--app", "wsgi", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_for_port(host, port, server, timeout=60.0):
    """True once something accepts connections on host:port; False if the server exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def main():
    """Start everything and wait."""
    port = os.environ.get("PORT", "5000")
    env = dict(os.environ, PORTAL_ENV=os.environ.get("PORTAL_ENV", "development"))
    os.environ.update(env)
    demo = _demo_logins()
    procs = [
        subprocess.Popen(  # noqa: S603
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                *GUNICORN_ARGS,
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
        )
    ]
    for name in ("bridge", "worker"):
        procs.append(subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", name, "run"], cwd=ROOT, env=env))  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    # The URL only once gunicorn answers: a click on it before then would fail.
    if not wait_for_port("127.0.0.1", port, procs[0]):
        print(f"the web server did not start on port {port}; see its messages above", file=sys.stderr)
    else:
        print(f"\nPortal running at {base}\n")
    print("Demo logins (staff also need the TOTP code from totp_secret, e.g. `oathtool --totp -b SECRET`):")
    for r in demo["residents"]:
        print(f"  resident  {r['login']:<10} {r['password']:<22} {r['unit']}")
    for role in ("guard", "manager"):
        s = demo[role]
        print(f"  {role:<9} {s['login']:<10} {s['password']:<22} totp_secret={s['totp_secret']}")
    print(f"  gate device token: {demo['devices']['gate']['token']}\n")
    print("Press Ctrl-C to stop.", flush=True)

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while True:
        for p in procs:
            if p.poll() is not None and p is procs[0]:
                print("the web server stopped; shutting down", file=sys.stderr)
                stop()
        time.sleep(1)


if __name__ == "__main__":
    main()
