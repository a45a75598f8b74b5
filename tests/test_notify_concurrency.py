"""Workers draining one outbox side by side send each message exactly once (PostgreSQL and SQLite)."""

import threading
import time
from collections import Counter

from conftest import each_database
from notify_support import FakeTwilio, use_twilio
from sqlalchemy import event

from portal.extensions import db
from portal.notify.models import Message
from portal.notify.operations import queue_sms
from portal.notify.worker import send_pending

COUNT = 40


@each_database
def test_two_workers_send_each_message_once(app, world):
    _drain_with_two_workers(app, world)


def _drain_with_two_workers(app, world):
    with FakeTwilio(delay=0.01) as fake:
        use_twilio(app, fake.base_url)
        with app.test_request_context():
            for i in range(COUNT):
                queue_sms("+8613812345678", f"message {i}", "test", site_id=world.site.id)
            db.session.commit()
        start = threading.Barrier(2)

        # Widen the race: linger between picking due rows and marking them, where a double claim would happen.
        def linger(conn, cursor, statement, *args):
            if statement.lstrip().startswith("SELECT messages.id") and "LIMIT" in statement:
                time.sleep(0.03)

        event.listen(db.engine, "after_cursor_execute", linger)
        claimed, errors = Counter(), []
        queued = db.select(db.func.count()).select_from(Message).where(Message.status == "queued")

        def worker(name):
            try:
                with app.app_context():
                    start.wait()
                    while True:
                        counts = send_pending(limit=3, batch=3)
                        claimed[name] += counts["sent"]
                        if not sum(counts.values()) and not db.session.scalar(queued):
                            break
                    db.session.remove()
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in ("w1", "w2")]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            event.remove(db.engine, "after_cursor_execute", linger)
        assert errors == []
        bodies = Counter(r["Body"] for r in fake.requests)
        assert len(bodies) == COUNT and set(bodies.values()) == {1}, "a message was sent twice or not at all"
        assert sum(claimed.values()) == COUNT and min(claimed["w1"], claimed["w2"]) > 0  # both really worked
        db.session.expire_all()
        rows = db.session.scalars(db.select(Message)).all()
        assert {m.status for m in rows} == {"sent"}
        assert sorted(m.provider_id for m in rows) == sorted(fake.sids)
