"""The no-systemd fallback: install-agent.sh starts the supervisor, which keeps the agent up.

The slot's "python" is a stand-in process (the supervisor is what is under test here; the
agent itself is started for real by tests/harness); the supervisor and install-agent.sh
are the real scripts, started the way bootstrap.sh starts them.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.procs import REPO, alive, wait_for

pytestmark = pytest.mark.engine
INSTALL = REPO / "scripts" / "install-agent.sh"


@dataclass
class Host:
    home: Path
    run: Path
    log: Path
    env: dict[str, str]

    def pid(self, name: str) -> int | None:
        try:
            pid = int((self.run / name).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    def agent(self) -> int | None:
        return self.pid("matrx-agent.pid")

    def supervisor(self) -> int | None:
        return self.pid("matrx-agent-supervise.pid")

    def install(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(INSTALL)], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    home = tmp_path / "opt"
    slot = home / "slots" / "abc123"
    (slot / ".venv" / "bin").mkdir(parents=True)
    python = slot / ".venv" / "bin" / "python"
    python.write_text("#!/bin/sh\nexec sleep 600\n")
    python.chmod(0o755)
    (home / "current").symlink_to("slots/abc123")
    env_file = tmp_path / "agent.env"
    env_file.write_text("MATRX_ENV=test\n")
    env = {
        "PATH": os.environ["PATH"],
        "MATRX_HOME": str(home),
        "MATRX_ENV_FILE": str(env_file),
        "MATRX_DATA_DIR": str(tmp_path / "data"),
        "MATRX_LOG_DIR": str(tmp_path / "log"),
        "MATRX_RUN_DIR": str(tmp_path / "run"),
        "MATRX_SUPERVISOR": "fallback",
    }
    h = Host(home, tmp_path / "run", tmp_path / "log" / "agent.log", env)
    yield h
    for pid in (h.supervisor(), h.agent()):
        if pid:
            os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not h.supervisor() and not h.agent(), 30, "the supervisor to stop")


def test_install_starts_a_supervisor_that_outlives_the_installer(host: Host) -> None:
    result = host.install()
    assert result.returncode == 0, result.stderr
    assert "the supervisor is running" in result.stdout
    supervisor = wait_for(host.supervisor, 10, "the supervisor's pid file")
    wait_for(host.agent, 10, "the agent to start")
    assert os.getsid(supervisor) == supervisor  # its own session: no terminal's SIGHUP


def test_a_second_install_changes_nothing_and_says_so(host: Host) -> None:
    assert host.install().returncode == 0
    first = wait_for(host.supervisor, 10, "the supervisor")
    again = host.install()
    assert again.returncode == 0
    assert "already running" in again.stdout
    assert host.supervisor() == first


def test_a_killed_agent_is_started_again(host: Host) -> None:
    assert host.install().returncode == 0
    first = wait_for(host.agent, 10, "the agent")
    os.kill(first, signal.SIGKILL)
    second = wait_for(lambda: (p := host.agent()) and p != first and p, 15, "a new agent")
    assert second != first
    assert "the agent exited (status 137)" in host.log.read_text()


def test_sighup_restarts_the_agent_at_once(host: Host) -> None:
    assert host.install().returncode == 0
    supervisor = wait_for(host.supervisor, 10, "the supervisor")
    first = wait_for(host.agent, 10, "the agent")
    os.kill(supervisor, signal.SIGHUP)
    wait_for(lambda: (p := host.agent()) and p != first and p, 15, "the agent restarted")
    assert "SIGHUP: restarting the agent now" in host.log.read_text()
    assert host.supervisor() == supervisor


def test_sigterm_stops_the_agent_and_the_supervisor(host: Host) -> None:
    assert host.install().returncode == 0
    wait_for(host.supervisor, 10, "the supervisor")
    agent = wait_for(host.agent, 10, "the agent")
    supervisor = host.supervisor()
    assert supervisor
    os.kill(supervisor, signal.SIGTERM)
    wait_for(lambda: not alive(agent) and not alive(supervisor), 30, "both to stop")
    assert not (host.run / "matrx-agent.pid").exists()


def test_an_unknown_supervisor_choice_is_refused(host: Host) -> None:
    host.env["MATRX_SUPERVISOR"] = "upstart"
    result = host.install()
    assert result.returncode == 1
    assert "MATRX_SUPERVISOR=upstart: use auto, systemd or fallback" in result.stderr
    assert host.supervisor() is None
