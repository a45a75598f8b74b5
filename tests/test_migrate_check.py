"""`make migrate-check` upgrades an empty database and fails when the models need a migration that does not exist."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_migrate_check_finds_models_and_migrations_agree():
    out = subprocess.run(["make", "-s", "migrate-check"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No new upgrade operations detected" in out.stdout
