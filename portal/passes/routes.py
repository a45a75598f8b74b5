"""The visitor's pass page (no login) and its live data."""
import time

from flask import Blueprint, Response, abort, jsonify, render_template

from portal.core.timeutil import local, utcnow
from portal.passes import codes, qr, queries

bp = Blueprint("passes", __name__)


def _live_pass(token):
    p = queries.by_link(token)
    if p is None:
        abort(404)
    return p


@bp.get("/p/<token>")
def visitor_page(token):
    """The page a visitor opens from the SMS."""
    p = _live_pass(token)
    state = p.state()
    ctx = dict(p=p, state=state, token=token, site=p.site,
               start=local(p.valid_from, p.timezone), end=local(p.valid_until, p.timezone))
    if state in ("active", "pending"):
        now = time.time()
        ctx.update(qr_text=codes.shown_qr_text(p, now), code=codes.keypad_code(p, now), refresh_at=codes.refresh_at(now))
    return render_template("passes/visitor.html", **ctx)


@bp.get("/p/<token>/live")
def visitor_live(token):
    """Current QR text and keypad code; the page polls this."""
    p = _live_pass(token)
    state = p.state()
    if state not in ("active", "pending"):
        return jsonify({"status": state, "qr": None, "code": None, "refresh_at": None})
    now = time.time()
    return jsonify({"status": state, "qr": codes.shown_qr_text(p, now), "code": codes.keypad_code(p, now),
                    "refresh_at": codes.refresh_at(now), "server_time": utcnow().isoformat()})


@bp.get("/p/<token>/qr.png")
def visitor_qr(token):
    """The QR valid now, as a PNG."""
    p = _live_pass(token)
    if p.state() not in ("active", "pending"):
        abort(410)
    data = qr.png(codes.shown_qr_text(p))
    return Response(data, mimetype="image/png", headers={"Cache-Control": "no-store"})
