"""Helpers for the residents' tests: the activation links in the outbox, and posting a roll."""

import re

from portal.extensions import db
from portal.notify.models import Message

LINK_RE = re.compile(r"(/activate/vpa_[A-Za-z0-9_-]+\?lang=(?:zh|en))")


def activation_sms(to=None):
    """The activation messages in the outbox (to one phone, when given), oldest first."""
    rows = db.session.scalars(db.select(Message).where(Message.purpose == "resident.activation").order_by(Message.id)).all()
    return [m for m in rows if to is None or m.to == to]


def link_path(message):
    """The activation link's path (with its ?lang=) inside an SMS body."""
    return LINK_RE.search(message.body).group(1)


def post_roll(client, world, text, user=None):
    """Import a roll through the API."""
    headers = world.token(user or world.manager) | {"Content-Type": "text/csv"}
    return client.post(f"/api/v1/sites/{world.site.slug}/residents/import", data=text.encode("utf-8"), headers=headers)
