"""Twenty gates scan the same single-use pass at the same instant: exactly one opens."""

from conftest import each_database
from gate_support import events, oathtool_code, race, verify

from portal.extensions import db
from portal.gate import rules
from portal.passes import codes
from portal.passes.models import Pass

GATES = 20


def _twenty_gates(world):
    return [world.device(f"gate-{i}", gates=[]) for i in range(GATES)]


def _race(app, world, max_entries, direction=None):
    p = world.make_pass(max_entries=max_entries)
    headers = [h for _, h in _twenty_gates(world)]
    text = codes.qr_text(p)
    body = {"qr": text} | ({"direction": direction} if direction else {})
    counter = iter(range(GATES))

    def scan(client):
        status, data = verify(client, headers[next(counter)], **body)
        assert status == 200
        return data["decision"], data["reason"]

    results = race(app, GATES, scan)
    db.session.expire_all()
    return db.session.get(Pass, p.id), results


def _check_single_winner(app, world):
    p, results = _race(app, world, max_entries=1)
    assert [r for r in results if r[0] == "grant"] == [("grant", "ok")]
    # Losers see the pass used up (never a second grant; "error" would also be a safe deny, but none is expected).
    assert {r for r in results if r[0] == "deny"} == {("deny", "used_up")}
    assert p.uses == 1
    recorded = events(pass_id=p.id)
    assert len(recorded) == GATES and sum(e.decision == "grant" for e in recorded) == 1


@each_database
def test_race_single_use(app, world):
    _check_single_winner(app, world)


@each_database
def test_race_decided_by_the_conditional_update_alone(app, world, monkeypatch):
    # Every racer passes the read-only checks, as if all had read uses == 0: the UPDATE must still admit one.
    monkeypatch.setattr(rules, "precheck", lambda *args: None)
    _check_single_winner(app, world)


@each_database
def test_race_three_entries(app, world):
    p, results = _race(app, world, max_entries=3)
    assert sum(r[0] == "grant" for r in results) == 3 and p.uses == 3


@each_database
def test_race_anti_passback(app, world):
    p, results = _race(app, world, max_entries=None, direction="in")
    assert sum(r == ("grant", "ok") for r in results) == 1
    assert {r for r in results if r[0] == "deny"} == {("deny", "anti_passback")}


@each_database
def test_race_keypad_code(app, world):
    p = world.make_pass(max_entries=None)
    _, header = world.device("keypad-1")
    code = oathtool_code(p)
    results = race(app, 8, lambda c: verify(c, header, code=code)[1]["reason"])
    assert results.count("ok") == 1
