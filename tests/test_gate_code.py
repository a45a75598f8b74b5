"""Keypad codes: oathtool agrees, each code works once, guesses are throttled and bursts alert the desk."""

import time
from datetime import timedelta

from gate_support import events, freeze, oathtool_code, race, reason, verify

from portal.core.timeutil import utcnow
from portal.passes import qrtext


def test_oathtool_code_opens_and_replay_is_refused(client, world):
    p = world.make_pass(max_entries=None, floors=[12])
    dev, header = world.device("keypad-1")
    code = oathtool_code(p)
    status, data = verify(client, header, code=code)
    assert (status, data["decision"], data["reason"], data["floors"]) == (200, "grant", "ok", [12])
    # The very same digits again inside the step: RFC 6238 §5.2, one use per code.
    assert reason(client, header, code=code) == ("deny", "replayed")
    recorded = [(e.method, e.reason, e.device_id) for e in events(pass_id=p.id)]
    assert recorded == [("code", "ok", dev.id), ("code", "replayed", dev.id)]


def test_full_width_and_spaced_entry_is_read(client, world):
    p = world.make_pass()
    _, header = world.device("keypad-1")
    code = oathtool_code(p)
    typed = " ".join([code[:5], code[5:]]).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert reason(client, header, code=typed) == ("grant", "ok")


def test_previous_step_accepted_older_and_replayed_steps_refused(client, world, monkeypatch):
    p = world.make_pass(max_entries=None)
    _, header = world.device("keypad-1")
    now = time.time()
    step = qrtext.current_step(now)
    freeze(monkeypatch, utcnow())
    previous = oathtool_code(p, at=(step - 1) * qrtext.STEP_SECONDS)
    two_back = oathtool_code(p, at=(step - 2) * qrtext.STEP_SECONDS)
    current = oathtool_code(p, at=step * qrtext.STEP_SECONDS)
    if two_back[5:] not in (previous[5:], current[5:]):
        assert reason(client, header, code=two_back) == ("deny", "unknown")
    assert reason(client, header, code=previous) == ("grant", "ok")
    assert reason(client, header, code=current) == ("grant", "ok")
    # A time-step replay: the previous step's code once the current one has been accepted.
    assert reason(client, header, code=previous) == ("deny", "replayed")


def test_wrong_or_malformed_codes_are_unknown(client, world):
    p = world.make_pass()
    _, header = world.device("keypad-1")
    good = oathtool_code(p)
    wrong = good[:5] + f"{(int(good[5:]) + 1) % 1_000_000:06d}"
    for code in (wrong, "", "12345", "abcdefghijk", good + "1", "9" * 5000):
        assert reason(client, header, code=code) == ("deny", "unknown"), code


def test_racing_the_same_code_admits_once(app, world):
    p = world.make_pass(max_entries=None)
    _, header = world.device("keypad-1")
    code = oathtool_code(p)
    results = race(app, 8, lambda c: verify(c, header, code=code)[1]["reason"])
    assert sorted(results).count("ok") == 1
    # Losers are replays; once the pass's failure budget is spent they are throttled instead.
    assert set(results) <= {"ok", "replayed", "throttled"} and "replayed" in results


def test_keypad_throttled_after_guesses_and_desk_alerted(app, client, world):
    app.extensions["gate_throttle"].__init__("memory://", "3/minute", "100/minute", "3/minute")
    p = world.make_pass()
    dev, header = world.device("keypad-1")
    good = oathtool_code(p)
    # Garbage (no live pass number) alerts the desk but locks nobody out.
    for n in range(3):
        assert reason(client, header, code=f"9{n:04d}000000") == ("deny", "unknown")
    bursts = [e for e in events(device_id=dev.id, reason="throttled") if e.details.get("burst")]
    assert len(bursts) == 1 and bursts[0].details["failures"] == 3
    # Guesses at a live pass number count against the keypad: past its limit even the right code waits.
    for n in range(1, 4):
        assert reason(client, header, code=good[:5] + f"{(int(good[5:]) + n) % 1_000_000:06d}") == ("deny", "unknown")
    assert reason(client, header, code=good) == ("deny", "throttled")
    # Another keypad is not affected.
    _, other = world.device("keypad-2")
    assert reason(client, other, code=good) == ("grant", "ok")


def test_pass_throttled_across_keypads(app, client, world):
    app.extensions["gate_throttle"].__init__("memory://", "100/minute", "2/minute")
    p = world.make_pass()
    _, k1 = world.device("keypad-1")
    _, k2 = world.device("keypad-2")
    good = oathtool_code(p)
    wrong = good[:5] + f"{(int(good[5:]) + 7) % 1_000_000:06d}"
    assert reason(client, k1, code=wrong) == ("deny", "unknown")
    assert reason(client, k2, code=wrong) == ("deny", "unknown")
    status, data = verify(client, k1, code=good)
    # A refused code never names its pass (that would tell a guesser which numbers are live).
    assert (data["decision"], data["reason"], "pass_id" in data) == ("deny", "throttled", False)


def test_code_reaches_pass_rules(client, world, monkeypatch):
    now = utcnow()
    p = world.make_pass(valid_from=now - timedelta(hours=1), valid_until=now + timedelta(minutes=1), max_entries=None)
    _, header = world.device("keypad-1")
    later = now + timedelta(minutes=2)
    freeze(monkeypatch, later)
    assert reason(client, header, code=oathtool_code(p, at=later.timestamp())) == ("deny", "expired")
