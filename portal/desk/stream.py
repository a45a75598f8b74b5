"""The desk's text/event-stream response, shared by the page and the API route."""
from flask import Response, current_app, request

from portal.core.converters import MAX_ID
from portal.desk import feed, queries
from portal.desk.access import id_arg


def _last_id():
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_id")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    # Beyond any row id: PostgreSQL would refuse to bind it to the INTEGER column (a 500).
    return value if 0 <= value <= MAX_ID else None


def stream_response(site_id):
    """Subscribe first, then replay what the client missed, then stream live: no gap, no loss."""
    app = current_app._get_current_object()
    decision = request.args.get("decision")
    decision = decision if decision in ("grant", "deny") else None
    gate_id = id_arg("gate")
    last = _last_id()
    hub = feed.hub_for(app)
    client = hub.subscribe(feed.Client(site_id, gate_id=gate_id, decision=decision))
    replay, complete = [], True
    try:
        if last is not None:
            rows = queries.events_after(site_id, last, decision=decision, gate_id=gate_id, limit=feed.REPLAY_LIMIT)
            late = queries.late_events(site_id, last, decision=decision, gate_id=gate_id)
            replay = feed.payloads([*late, *rows])
            complete = len(rows) < feed.REPLAY_LIMIT
    except BaseException:
        hub.unsubscribe(client)  # no stream will ever drain it
        raise
    resp = Response(feed.sse_frames(hub, client, replay, replay_complete=complete), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx must not buffer the stream
    return resp
