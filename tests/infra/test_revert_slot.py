"""revert-slot.sh, run for real against a temporary /opt layout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.infra.procs import REPO

pytestmark = pytest.mark.engine
SCRIPT = REPO / "infra" / "systemd" / "revert-slot.sh"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """current -> slots/B (the bad upgrade), previous -> slots/A."""
    home = tmp_path / "opt" / "matrx-ship"
    for slot in ("A", "B"):
        (home / "slots" / slot).mkdir(parents=True)
    (home / "current").symlink_to("slots/B")
    (home / "previous").symlink_to("slots/A")
    return home


def revert(home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "MATRX_HOME": str(home), "MATRX_RUN_DIR": str(home / "run")}
    return subprocess.run(
        [str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_revert_points_current_at_the_previous_slot_and_keeps_it(home: Path) -> None:
    r = revert(home)
    assert r.returncode == 0, r.stderr
    assert os.readlink(home / "current") == "slots/A"
    assert os.readlink(home / "previous") == "slots/A"
    assert os.readlink(home / "failed") == "slots/B"
    assert "reverting to the previous slot" in r.stdout
    assert "not restarting the agent" in r.stdout  # no systemd, no supervisor here
    print(r.stdout)


def test_a_second_revert_changes_nothing_and_says_so(home: Path) -> None:
    assert revert(home).returncode == 0
    before = sorted((p.name, os.readlink(p)) for p in home.iterdir() if p.is_symlink())
    r = revert(home)
    assert r.returncode == 0, r.stderr
    assert "nothing to do" in r.stdout
    assert sorted((p.name, os.readlink(p)) for p in home.iterdir() if p.is_symlink()) == before
    assert not list(home.glob(".*.tmp.*"))


def test_without_a_previous_slot_it_refuses_and_touches_nothing(home: Path) -> None:
    (home / "previous").unlink()
    r = revert(home)
    assert r.returncode != 0
    assert "no previous slot" in r.stderr
    assert os.readlink(home / "current") == "slots/B"
