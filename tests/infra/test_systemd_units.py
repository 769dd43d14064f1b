"""The systemd units verify offline, say what issue 12 asks for, and a broken unit fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.procs import REPO

pytestmark = pytest.mark.engine
UNITS = REPO / "infra" / "systemd"
NAMES = ("matrx-agent.service", "matrx-agent-revert.service")


def settings(unit: str) -> dict[str, list[str]]:
    """Every Key=value of a unit file, values in order (keys may repeat)."""
    out: dict[str, list[str]] = {}
    for line in (UNITS / unit).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def rendered(tmp_path: Path, edit: tuple[str, str] | None = None) -> list[Path]:
    """Copies of the units whose host paths point into tmp_path, where those files exist."""
    home, etc = tmp_path / "opt" / "matrx-ship", tmp_path / "etc" / "matrx-ship"
    slot = home / "slots" / "abc123"
    (slot / ".venv" / "bin").mkdir(parents=True)
    (home / "bin").mkdir()
    (home / "current").symlink_to("slots/abc123")
    for exe in (slot / ".venv" / "bin" / "python", home / "bin" / "revert-slot.sh"):
        shutil.copy(UNITS / "revert-slot.sh", exe)
    etc.mkdir(parents=True)
    (etc / "agent.env").write_text("MATRX_ADMIN_TOKEN=x\n")
    out = []
    for name in NAMES:
        text = (UNITS / name).read_text()
        text = text.replace("/opt/matrx-ship", str(home)).replace("/etc/matrx-ship", str(etc))
        if edit:
            text = text.replace(*edit)
        (tmp_path / name).write_text(text)
        out.append(tmp_path / name)
    return out


def verify(paths: list[Path]) -> tuple[int, str]:
    """systemd-analyze verify; it exits 0 on unknown keys and bad values, so keep its words."""
    r = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return r.returncode, (r.stdout + r.stderr).strip()


def test_both_units_verify_without_a_single_warning(tmp_path: Path) -> None:
    assert verify(rendered(tmp_path)) == (0, "")


@pytest.mark.parametrize(
    "edit",
    [
        ("Restart=always", "Restrat=always"),
        ("RestartSec=2", "RestartSec=soon"),
        ("Type=exec", "Type=exce"),
        ("/.venv/bin/python", "/.venv/bin/pyhton"),
        ("ExecStart=/", "ExecStart=bin/"),
        ("[Service]", "[Servce]"),
    ],
    ids=["key", "value", "type", "missing-exec", "relative-exec", "section"],
)
def test_a_unit_with_a_typo_fails_verification(tmp_path: Path, edit: tuple[str, str]) -> None:
    rc, said = verify(rendered(tmp_path, edit))
    assert said, f"systemd-analyze said nothing about a unit with {edit[1]!r} (exit {rc})"
    assert "matrx-agent" in said


def test_the_agent_comes_back_quickly_at_boot_after_docker() -> None:
    unit = settings("matrx-agent.service")
    assert unit["Restart"] == ["always"]
    assert float(unit["RestartSec"][0]) <= 3  # plus ~3 s of start-up: within issue 12's 10 s
    assert unit["WantedBy"] == ["multi-user.target"]
    for key in ("After", "Wants"):
        assert set(unit[key][0].split()) == {"docker.service", "network-online.target"}
    assert unit["EnvironmentFile"] == ["/etc/matrx-ship/agent.env"]
    assert unit["ExecStart"] == ["/opt/matrx-ship/current/.venv/bin/python -m onbox_agent"]


def test_a_crash_loop_hits_the_start_limit_and_reverts_the_slot() -> None:
    unit = settings("matrx-agent.service")
    burst, window = int(unit["StartLimitBurst"][0]), int(unit["StartLimitIntervalSec"][0])
    # A slot that dies at start must exhaust the burst inside the window.
    assert burst * float(unit["RestartSec"][0]) < window
    assert unit["OnFailure"] == ["matrx-agent-revert.service"]
    revert = settings("matrx-agent-revert.service")
    assert revert["Type"] == ["oneshot"]
    assert revert["ExecStart"] == ["/opt/matrx-ship/bin/revert-slot.sh"]
    assert "OnFailure" not in revert and "Restart" not in revert
