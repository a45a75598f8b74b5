"""Helpers for the desk tests: events as the gate and bridge write them, page logins, SSE reading."""

import json

from support import csrf, login

from portal.events.operations import record_event
from portal.extensions import db


def event(world, commit=True, **fields):
    """Record an access event through the shared operation (as gate and bridge do) and commit."""
    base = dict(
        site_id=world.site.id, gate_id=world.gate.id, method="qr", decision="grant", reason="ok", direction="in", source="api"
    )
    base.update(fields)
    with world.app.test_request_context():
        ev = record_event(**base)
        if commit:
            db.session.commit()
        return ev.id


def login_page(client, world, user):
    """Log a user in through the login form (password, and TOTP for staff)."""
    resp = login(client, user, world.PASSWORD)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client


csrf_from = csrf  # a CSRF token taken from a page the client can see


def read_frames(chunks, count):
    """Read SSE frames from a streaming body until `count` data frames arrived; returns their (id, data)."""
    out, buf = [], ""
    for chunk in chunks:
        buf += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buf:
            frame, buf = buf.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line and not line.startswith(":"))
            if "data" in fields:
                out.append((int(fields["id"]), json.loads(fields["data"])))
                if len(out) >= count:
                    return out
    return out
