"""bench/load_faults.py in small: its orchestration for a few seconds with a bridge worker SIGKILLed.

(A portal worker's SIGKILL is the bench's; the journal's side of it is tests/test_event_journal_kill.py.)
"""

import pytest
from conftest import skip_unless

from bench import _services
from bench import load_faults as bench


@pytest.mark.integration
def test_a_short_load_with_a_killed_bridge_worker_grants_nothing_wrong_and_loses_no_event():
    missing = _services.available()
    skip_unless(not missing, f"not installed: {', '.join(missing)}")
    report = bench.run(
        seconds=6,
        faults=["bridge"],
        rates={"verify": 40, "create": 2, "revoke": 1},
        doors=40,
        buildings=10,
        readers=2,
        live_per_building=2,
        expired=5,
        lease=3,  # the restarted worker takes the killed one's doors when its lease lapses: 10 s by default
    )
    assert report["achieved"]["verify"]["sent"] == 240
    assert [f["fault"] for f in report["faults"]] == ["bridge"]
    assert report["wrong_grants"] == 0, report["wrong_grant_samples"]
    assert report["events"]["answered"] > 200
    assert report["events"]["lost"] == 0, report["events"]
    assert report["doors_check"]["doors_reporting"] == 40
    assert report["revocations_unreached"] == 0, report["revocations_unreached_samples"]
