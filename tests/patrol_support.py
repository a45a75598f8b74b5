"""Patrol helpers: a route of signed checkpoints, scans as a phone would queue them."""

import uuid
from datetime import timedelta

from portal.extensions import db
from portal.patrol import checkpoints, stickers


def route(world, n=3, site=None, manager=None, minutes=5, schedule=None, names=None):
    """(checkpoints, route, their sticker payloads) made through the operations layer."""
    site, manager = site or world.site, manager or world.manager
    names = names or [f"检查点{i + 1}" for i in range(n)]
    with world.app.test_request_context():
        cps = [checkpoints.add_checkpoint(manager, site, name) for name in names]
        r = checkpoints.add_route(
            manager, site, "夜间巡逻", [{"checkpoint_id": c.id, "minutes": minutes} for c in cps], schedule or {}
        )
        payloads = [stickers.payload(c) for c in cps]
        db.session.commit()
        return cps, r, payloads


def scan(payload, at, client_id=None):
    """One queued scan: a client id, the sticker text and the phone's time."""
    return {"id": client_id or str(uuid.uuid4()), "payload": payload, "scanned_at": at.isoformat()}


def start(client, headers, route_id):
    """Start a round through the API; returns its JSON."""
    resp = client.post("/api/v1/patrol/rounds", json={"route_id": route_id}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def minutes(at, n):
    """at + n minutes."""
    return at + timedelta(minutes=n)
