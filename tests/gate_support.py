"""Helpers for the gate tests: calling verify, reading a real QR, typing an oathtool code, moving time."""

import io
import subprocess
from datetime import UTC, datetime

import support
import zxingcpp
from PIL import Image

from portal.events import journal
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.gate import decisions
from portal.passes import codes

OATHTOOL = "/usr/bin/oathtool"


def verify(client, header, **body):
    """POST /api/v1/gate/verify; returns (status, json)."""
    resp = client.post("/api/v1/gate/verify", json=body, headers=header)
    return resp.status_code, resp.get_json()


def reason(client, header, **body):
    """Just the decision and reason of a verify call that must answer 200."""
    status, data = verify(client, header, **body)
    assert status == 200, data
    return data["decision"], data["reason"]


def qr_from_png(client, p):
    """The text inside the pass's qr.png, decoded by zxing-cpp as a phone camera or reader would."""
    resp = client.get(f"/p/{p.link_token}/qr.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(resp.data)))
    assert len(found) == 1
    return found[0].text


def oathtool_code(p, at=None):
    """keypad number + the TOTP that Debian's oathtool (an independent implementation) computes."""
    args = [OATHTOOL, "--totp", "-b", p.otp_secret]
    if at is not None:
        args += ["-N", f"@{int(at)}"]
    otp = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()
    assert len(otp) == codes.OTP_DIGITS
    return p.keypad_no + otp


def freeze(monkeypatch, when):
    """Make every gate decision see `when` (aware datetime) as now."""
    fixed = when.astimezone(UTC)
    monkeypatch.setattr(decisions, "clock", lambda: fixed)
    return fixed


def at(text):
    """An aware datetime from ISO text with an offset."""
    return datetime.fromisoformat(text)


def events(**where):
    """Access events matching the filters, in decision order (the event journal written out first).

    Ids follow insertion, and journaled events are inserted a moment after the decision, so the
    decision time orders them.
    """
    journal.journal().flush()
    db.session.expire_all()
    return db.session.scalars(db.select(AccessEvent).filter_by(**where).order_by(AccessEvent.at, AccessEvent.id)).all()


def race(app, n, call):
    """Run call(client) in n threads released at the same instant, each with its own app context and client."""
    return support.race(app, n, call, client=True)
