"""Helpers every test file shares: the CSRF token of a page, logging in through the form, racing threads, a killed worker."""

import gc
import json
import os
import re
import select
import signal
import threading
import time
import traceback

import pyotp

from portal.extensions import db

PASSWORD = "correct horse battery staple"  # every test user's password (World.PASSWORD)

# Flask-WTF renders name before value; hand-written forms do too (<input type="hidden" name=… value=…>).
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_in(html):
    """The CSRF token of the first form in a rendered page (text or bytes)."""
    if isinstance(html, bytes):
        html = html.decode()
    found = CSRF_RE.search(html)
    assert found, "no csrf token in page"
    return found.group(1)


def csrf(client, path):
    """The CSRF token of a page the client can see."""
    return csrf_in(client.get(path).get_data(as_text=True))


def login(client, user, password=PASSWORD, otp=None):
    """Log in through the real login form (staff with a TOTP code of their secret); returns the response."""
    data = {"csrf_token": csrf(client, "/login"), "login": getattr(user, "login", user), "password": password}
    if otp is None and getattr(user, "is_staff", False):
        otp = pyotp.TOTP(user.totp_secret).now()
    if otp is not None:
        data["otp"] = otp
    return client.post("/login", data=data)


def race(app, n, call, client=False):
    """Run call() (call(test_client) with client=True) in n threads released together, each in its own app context.

    Returns the n results in thread order; a thread that raised leaves None.
    """
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        with app.app_context():
            args = (app.test_client(),) if client else ()
            barrier.wait()
            try:
                results[i] = call(*args)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def killed_worker(body, timeout=120):
    """Run body() in a forked copy of this process that then SIGKILLs itself; what body returned (through JSON).

    A worker killed with SIGKILL, without a new interpreter importing the portal again (seconds per test): the copy
    starts with everything imported, makes its own app, and dies without any exit handler or finaliser running.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            gc.freeze()  # the collector never finalises this process's copies of the parent's connections
            os.write(write, json.dumps(body()).encode())
            os.kill(os.getpid(), signal.SIGKILL)
        except BaseException:  # the parent reports it
            os.write(write, traceback.format_exc().encode())
        finally:
            os._exit(1)
    os.close(write)
    chunks, deadline = [], time.monotonic() + timeout
    with os.fdopen(read, "rb") as pipe:
        while select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
    out = b"".join(chunks).decode()
    hung = time.monotonic() > deadline
    if hung:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert not hung, f"the worker did not finish within {timeout} s: {out[-2000:]}"
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, out[-2000:]
    return json.loads(out)
