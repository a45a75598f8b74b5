"""`make migrate-check` upgrades an empty database and fails when the models need a migration that does not exist."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_migrate_check_finds_models_and_migrations_agree():
    # -o: the virtualenv running this test is taken as installed (a checkout newer than it would reinstall it first).
    make = ["make", "-s", "-o", ".venv/.installed", "migrate-check"]
    out = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No new upgrade operations detected" in out.stdout
