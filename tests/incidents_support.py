"""Helpers for the incident and shift tests: a report body, logging one through the API, staff of the site."""

import io

from portal.accounts.operations import create_user
from portal.extensions import db


def body(**over):
    """A valid incident report."""
    out = {
        "kind": "lift_entrapment",
        "location": "B栋 2号电梯",
        "description": "两人被困，电梯停在5楼和6楼之间。",
        "severity": "high",
    }
    out.update(over)
    return out


def report(client, world, user=None, **over):
    """Log an incident through the API as user (the guard by default); returns the response."""
    return client.post("/api/v1/incidents", json=body(**over), headers=world.token(user or world.guard))


def report_with_photos(client, headers, photos, **over):
    """Log an incident as multipart with photos [(name, bytes)]."""
    data = {k: str(v) for k, v in body(**over).items()}
    data["photos"] = [(io.BytesIO(raw), name) for name, raw in photos]
    return client.post("/api/v1/incidents", data=data, headers=headers, content_type="multipart/form-data")


def staff(world, login, role="guard", name="李保安", site=None, phone=None):
    """Another staff member of the site (or of site)."""
    user = create_user(login, world.PASSWORD, role, name, site=site or world.site)
    if phone:
        user.phone = phone
    db.session.commit()
    return user
