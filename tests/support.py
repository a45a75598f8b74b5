"""Helpers every test file shares: the CSRF token of a page, logging in through the form, racing threads."""

import re
import threading

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
