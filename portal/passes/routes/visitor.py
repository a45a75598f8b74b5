"""The visitor's pass page (no login) and its live data."""

from flask import Blueprint, Response, abort, jsonify, render_template

from portal.core import timeutil
from portal.core.timeutil import local, utcnow
from portal.passes import codes, qr, qrtext, queries
from portal.sites import settings as site_settings

bp = Blueprint("passes", __name__)


def _live_pass(token):
    p = queries.by_link(token)
    if p is None:
        abort(404)
    return p


def exit_only(p, state):
    """A used-up pass whose visitor has not gone out yet keeps a credential, good for the exit only.

    The gate never refuses an "out" for the use count (portal.gate.rules.precheck), so the QR and code
    stay on the page until the visitor leaves or the window ends; entries are still refused as used_up.
    """
    return state == "used_up" and p.status == "active" and p.last_direction != "out"


def _shows_codes(p, state):
    return state in ("active", "pending") or exit_only(p, state)


@bp.get("/p/<token>")
def visitor_page(token):
    """The page a visitor opens from the SMS."""
    p = _live_pass(token)
    state = p.state()
    ctx = dict(
        p=p,
        state=state,
        token=token,
        site=p.site,
        exit_only=exit_only(p, state),
        keypad=site_settings.value(p.site, "keypad_codes"),  # off: the code is not shown, the gate refuses it
        start=local(p.valid_from, p.timezone),
        end=local(p.valid_until, p.timezone),
    )
    if _shows_codes(p, state):
        now = timeutil.now_ts()
        ctx.update(
            qr_text=codes.shown_qr_text(p, now),
            code=codes.keypad_code(p, now),
            refresh_at=codes.refresh_at(now),
            server_now=int(now),
            step_seconds=qrtext.STEP_SECONDS,
        )
    return render_template("passes/visitor.html", **ctx)


@bp.get("/p/<token>/live")
def visitor_live(token):
    """Current QR text and keypad code; the page polls this."""
    p = _live_pass(token)
    state = p.state()
    if not _shows_codes(p, state):
        return jsonify({"status": state, "qr": None, "code": None, "refresh_at": None})
    now = timeutil.now_ts()
    return jsonify(
        {
            "status": state,
            "exit_only": exit_only(p, state),
            "qr": codes.shown_qr_text(p, now),
            "code": codes.keypad_code(p, now),
            "refresh_at": codes.refresh_at(now),
            "server_time": utcnow().isoformat(),
        }
    )


@bp.get("/p/<token>/qr.png")
def visitor_qr(token):
    """The QR valid now, as a PNG."""
    p = _live_pass(token)
    if not _shows_codes(p, p.state()):
        abort(410)
    data = qr.png(codes.shown_qr_text(p))
    return Response(data, mimetype="image/png", headers={"Cache-Control": "no-store"})
