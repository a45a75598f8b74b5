"""On PostgreSQL, workers draining one outbox side by side send each message exactly once."""
import threading
from collections import Counter

import pytest
from notify_support import FakeTwilio, use_twilio

from portal.extensions import db
from portal.notify.models import Message
from portal.notify.operations import queue_sms
from portal.notify.worker import send_pending

pytestmark = pytest.mark.integration
COUNT = 40


def test_two_workers_send_each_message_once(pg_app, pg_world):
    with FakeTwilio(delay=0.01) as fake:
        use_twilio(pg_app, fake.base_url)
        with pg_app.test_request_context():
            for i in range(COUNT):
                queue_sms("+8613812345678", f"message {i}", "test", site_id=pg_world.site.id)
            db.session.commit()
        start = threading.Barrier(2)
        claimed, errors = Counter(), []

        def worker(name):
            try:
                with pg_app.app_context():
                    start.wait()
                    while True:
                        counts = send_pending(limit=3, batch=3)
                        if not sum(counts.values()):
                            break
                        claimed[name] += counts["sent"]
                    db.session.remove()
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in ("w1", "w2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        bodies = Counter(r["Body"] for r in fake.requests)
        assert len(bodies) == COUNT and set(bodies.values()) == {1}, "a message was sent twice or not at all"
        assert sum(claimed.values()) == COUNT and min(claimed["w1"], claimed["w2"]) > 0  # both really worked
        db.session.expire_all()
        rows = db.session.scalars(db.select(Message)).all()
        assert {m.status for m in rows} == {"sent"}
        assert sorted(m.provider_id for m in rows) == sorted(fake.sids)
