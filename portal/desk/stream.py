"""The desk's text/event-stream response, shared by the page and the API route."""
from flask import Response, current_app, request

from portal.desk import feed, queries


def _last_id():
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_id")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 0 <= value < 2**62 else None


def stream_response(site_id):
    """Subscribe first, then replay what the client missed, then stream live: no gap, no loss."""
    app = current_app._get_current_object()
    decision = request.args.get("decision")
    decision = decision if decision in ("grant", "deny") else None
    gate_id = request.args.get("gate", type=int)
    hub = feed.hub_for(app)
    client = hub.subscribe(feed.Client(site_id, gate_id=gate_id, decision=decision))
    last = _last_id()
    replay, complete = [], True
    if last is not None:
        rows = queries.events_after(site_id, last, decision=decision, gate_id=gate_id, limit=feed.REPLAY_LIMIT)
        late = queries.late_events(site_id, last, decision=decision, gate_id=gate_id)
        replay = feed.payloads([*late, *rows])
        complete = len(rows) < feed.REPLAY_LIMIT
    resp = Response(feed.sse_frames(hub, client, replay, replay_complete=complete), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx must not buffer the stream
    return resp
