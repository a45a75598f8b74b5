"""DATA_KEY rotation: a second key, re-encryption interrupted halfway and resumed, the old key retired."""

import json

import pytest
from conftest import each_database
from cryptography.exceptions import InvalidTag
from flask import current_app
from gate_support import reason

from portal.config import TestConfig
from portal.core import crypto
from portal.extensions import db
from portal.ops import keys
from portal.passes import codes
from portal.passes.models import Pass
from portal.passes.operations import revoke_pass

OLD = TestConfig.DATA_KEY
NEW = "bmV3LWRhdGEta2V5LWZvci1yb3RhdGlvbi10ZXN0cy0xMjM0NTY3OA=="


@pytest.fixture
def ring():
    """configure(current, id, old) for this test; the test configuration's key is put back afterwards."""

    def use(key, key_id=1, old=None, index=None):
        current_app.config.update(DATA_KEY=key, DATA_KEY_ID=key_id)
        crypto.configure(key, key_id=key_id, old_keys=old or {}, index_key=index)
        db.session.expire_all()

    yield use
    crypto.configure(OLD)


def _community(world):
    """Passes with phones and ID numbers (one revoked), a device with secret options, staff TOTP secrets."""
    passes = [
        world.make_pass(visitor_phone=f"+861381234{i:04d}", visitor_id_number="11010519491231002X", max_entries=5)
        for i in range(6)
    ]
    with world.app.test_request_context():
        revoke_pass(passes[-1], by=world.r1, reason="no longer expected")
        db.session.commit()
    device, header = world.device()
    device.options = {"password": "door-secret-42"}
    db.session.commit()
    return passes, header


@pytest.fixture
def community(world):
    """The community on the test's database."""
    return _community(world)


def _read_everything(passes):
    """Every encrypted value readable, and the passes' phones as stored."""
    db.session.expire_all()
    for _table, column in keys.encrypted_columns():
        for (value,) in db.session.execute(db.select(column).where(column.isnot(None))):
            assert value is not None
    return [db.session.get(Pass, p.id).visitor_phone for p in passes]


@each_database
def test_rotation_interrupted_halfway_resumes_and_the_old_key_is_retired(client, community, ring):
    passes, header = community
    phones = [p.visitor_phone for p in passes]
    index_before = crypto.blind_index("phone", phones[0])
    before = keys.usage()
    assert set(before) == {1} and before[1] >= 20

    ring(NEW, key_id=2, old={1: OLD})
    assert keys.can_drop(1)[0] is False

    class Interrupted(Exception):
        pass

    seen = []

    def crash_after_two(progress):
        seen.append(progress.rewritten)
        if progress.batches == 2:
            raise Interrupted  # the process dies between batches

    with pytest.raises(Interrupted):
        keys.rotate(batch_size=3, after_batch=crash_after_two)
    halfway = keys.usage()
    # Exactly the two committed batches are under the new key, the rest still under the old one.
    assert 0 < halfway[2] == seen[-1] < before[1] and halfway[1] == before[1] - seen[-1]
    assert _read_everything(passes) == phones  # mixed keys read fine meanwhile
    ok, why = keys.can_drop(1)
    assert not ok and "still encrypts" in why

    done = keys.rotate(batch_size=3)
    assert done.finished and done.rewritten == before[1] - seen[-1]
    assert keys.usage() == {2: before[1]}
    assert keys.rotate(batch_size=3).rewritten == 0  # nothing left: a rerun is a no-op
    assert keys.can_drop(1) == (True, "")
    assert keys.can_drop(2)[0] is False  # never the current key

    # Key 1 leaves the ring; blind indexes keep key 1's index key through DATA_INDEX_KEY.
    with pytest.raises(ValueError, match="DATA_INDEX_KEY"):
        crypto.configure(NEW, key_id=2)
    ring(NEW, key_id=2, index=OLD)
    assert _read_everything(passes) == phones
    assert crypto.blind_index("phone", phones[0]) == index_before
    assert reason(client, header, qr=codes.qr_text(db.session.get(Pass, passes[0].id))) == ("grant", "ok")
    assert reason(client, header, qr=codes.qr_text(db.session.get(Pass, passes[-1].id))) == ("deny", "revoked")


def test_new_values_use_the_current_key_and_old_ones_still_read(app, world, ring):
    legacy = crypto.encrypt(b"before rotation")
    assert legacy[:1] == b"\x01" and crypto.key_id_of(legacy) == 1
    ring(NEW, key_id=2, old={1: OLD})
    fresh = crypto.encrypt(b"after rotation")
    assert fresh[:2] == b"\x02\x02" and crypto.key_id_of(fresh) == 2
    assert crypto.decrypt(legacy) == b"before rotation" and crypto.decrypt(fresh) == b"after rotation"
    tampered = fresh[:1] + b"\x01" + fresh[2:]
    with pytest.raises(InvalidTag):  # the key id is authenticated: relabelling a ciphertext fails
        crypto.decrypt(tampered)
    ring(NEW, key_id=2, index=OLD)
    with pytest.raises(crypto.KeyMissing, match="key 1"):
        crypto.decrypt(legacy)


def test_keys_commands_report_rotate_in_steps_and_refuse_an_early_drop(app, world, community, ring):
    runner = app.test_cli_runner()
    ring(NEW, key_id=2, old={1: OLD})
    status = json.loads(runner.invoke(args=["keys", "status"]).output)
    assert status["current"] == 2 and status["ring"] == [1, 2] and set(status["values_per_key"]) == {"1"}
    step = json.loads(runner.invoke(args=["keys", "rotate-data-key", "--batch-size", "2", "--max-batches", "1"]).output)
    assert step["finished"] is False and step["rewritten"] == 2
    refused = runner.invoke(args=["keys", "drop-data-key", "1"])
    assert refused.exit_code == 1 and "still encrypts" in refused.output
    rest = json.loads(runner.invoke(args=["keys", "rotate-data-key"]).output)
    assert rest["finished"] is True
    assert json.loads(runner.invoke(args=["keys", "status"]).output)["values_per_key"] == {"2": status["values_per_key"]["1"]}
    dropped = runner.invoke(args=["keys", "drop-data-key", "1"])
    assert dropped.exit_code == 0 and "DATA_INDEX_KEY" in dropped.output


def test_old_keys_setting_is_parsed_strictly():
    assert crypto.parse_keys("1:abc, 3:def") == {1: "abc", 3: "def"}
    for bad in ("abc", "0:x", "256:x", "one:x"):
        with pytest.raises(ValueError, match="DATA_OLD_KEYS"):
            crypto.parse_keys(bad)
