"""A burst of parallel denials (PostgreSQL and SQLite): no deadlock on desk_exceptions, every answer the right reason."""

import random
import threading
from collections import Counter

from conftest import each_database
from gate_support import verify
from sqlalchemy import event as sa_event

from portal.desk.models import DeskException
from portal.events import journal
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.passes import codes

THREADS = 16
FRESH, FRESH_SCANS = 20, 10  # single-use passes raced by 10 gates: 1 grant, 9 used_up (some settled by the UPDATE)
SPENT, SPENT_SCANS = 10, 15  # passes already used up: denied read-only, their events go through the journal


def _burst(app, calls):
    """Run every call(client) from THREADS threads released together; the answers in call order."""
    answers = [None] * len(calls)
    todo = iter(range(len(calls)))
    lock, barrier = threading.Lock(), threading.Barrier(THREADS)

    def worker():
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    break
                answers[i] = calls[i](client)
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


@each_database
def test_burst_of_denials_never_deadlocks(app, world):
    headers = [h for _, h in (world.device(f"gate-{i}", gates=[world.gate]) for i in range(4))]
    fresh = [world.make_pass(max_entries=1) for _ in range(FRESH)]
    spent = [world.make_pass(max_entries=1) for _ in range(SPENT)]
    db.session.execute(db.update(type(spent[0])).where(type(spent[0]).id.in_([p.id for p in spent])).values(uses=1))
    db.session.commit()
    scans = [(p.id, codes.qr_text(p)) for p in fresh for _ in range(FRESH_SCANS)]
    scans += [(p.id, codes.qr_text(p)) for p in spent for _ in range(SPENT_SCANS)]
    random.Random(15).shuffle(scans)

    deadlocks = []

    def count_deadlock(ctx):
        if type(ctx.original_exception).__name__ == "DeadlockDetected" or "locked" in str(ctx.original_exception):
            deadlocks.append(ctx.statement)

    sa_event.listen(db.engine, "handle_error", count_deadlock)
    try:

        def call(n, text):
            def run(client):
                status, data = verify(client, headers[n % len(headers)], qr=text)
                return status, data["decision"], data["reason"]

            return run

        answers = _burst(app, [call(n, text) for n, (_, text) in enumerate(scans)])
        journal.journal(app).flush()
    finally:
        sa_event.remove(db.engine, "handle_error", count_deadlock)

    assert deadlocks == []
    by_pass = {}
    for (pass_id, _), answer in zip(scans, answers, strict=True):
        by_pass.setdefault(pass_id, Counter())[answer] += 1
    for p in fresh:
        assert by_pass[p.id] == Counter({(200, "grant", "ok"): 1, (200, "deny", "used_up"): FRESH_SCANS - 1}), p.id
    for p in spent:
        assert by_pass[p.id] == Counter({(200, "deny", "used_up"): SPENT_SCANS}), p.id
    denials = FRESH * (FRESH_SCANS - 1) + SPENT * SPENT_SCANS
    db.session.expire_all()
    reasons = Counter(db.session.scalars(db.select(AccessEvent.reason)))
    assert reasons == Counter({"used_up": denials, "ok": FRESH})
    # Every denial counted on the desk's exception for it: no count lost to a read-modify-write.
    counts = db.session.scalars(db.select(DeskException.count).where(DeskException.reason == "used_up")).all()
    assert sum(counts) == denials
