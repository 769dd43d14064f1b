"""When the agent stops answering, the deploy scope shows the stored state and the runbook."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.lib.console import memory_for
from tests.dashboard.conftest import app_test, console_env, open_page, texts
from tests.harness import TEST_PREFIX, RunningAgent, agent_settings, app_spec, engines


def start_doomed(pg_url: str, data_dir: Path, image: str) -> tuple[RunningAgent, str]:
    """An agent of its own (the test stops it) with one service registered."""
    agent = RunningAgent(agent_settings(data_dir, database_url=pg_url)).start()
    name = TEST_PREFIX + "gone-" + uuid.uuid4().hex[:6]
    client = agent.client()
    client.create_service(app_spec(name, image, env={"API_KEY": "s3cr3t-value"}))
    # the agent's gate may pass on its own probe before Docker's check says "healthy"
    engines.wait_for(lambda: client.service(name)["status"]["health"] == "healthy", 30, name)
    client.close()
    return agent, name


@pytest.fixture
def doomed(pg_url: str, tmp_path: Path, app_image: str) -> Iterator[tuple[RunningAgent, str]]:
    agent, name = start_doomed(pg_url, tmp_path, app_image)
    yield agent, name
    agent.remove_containers()
    agent.stop()


def test_agent_down_shows_the_stored_state_and_the_runbook(
    monkeypatch: pytest.MonkeyPatch, doomed: tuple[RunningAgent, str], pg_url: str
) -> None:
    agent, name = doomed
    console_env(monkeypatch, agent.url, agent.admin_token, SUPABASE_DB_URL=pg_url)
    at = open_page(app_test().run(), "services")
    assert list(at.dataframe[0].value["service"]) == [name]  # seen live once
    agent.remove_containers()
    agent.stop()

    at = app_test().run()
    assert not at.exception
    assert at.title[0].value == "Recovery"
    shown = texts(at)
    assert "The agent does not answer." in shown and "stale since" in shown
    assert "# Disaster recovery: rebuild the host" in shown
    assert list(at.session_state["_console"].pages) == [
        "recovery",
        "services",
        "overview",
        "audit",
        "docs",
    ]

    at = open_page(at, "services")
    row = at.dataframe[0].value.iloc[0]
    assert row["service"] == name and row["state"] == "running · healthy"  # last seen
    assert "(stale)" in texts(at)

    at = open_page(at, "audit")
    assert "from the state store" in texts(at)
    created = at.dataframe[0].value.set_index("action").loc["POST /v1/services"]
    assert created["target"] == name and created["who"] == "bootstrap-admin"


def test_a_console_that_never_saw_the_agent_shows_the_store_alone(
    monkeypatch: pytest.MonkeyPatch, doomed: tuple[RunningAgent, str], pg_url: str
) -> None:
    agent, name = doomed
    agent.stop()
    memory_for.clear()  # a console started after the agent died
    console_env(monkeypatch, agent.url, None, SUPABASE_DB_URL=pg_url)
    at = open_page(app_test().run(), "overview", service=name)
    assert at.title[0].value == f"Overview: {name}"
    assert {m.label: m.value for m in at.metric}["State"] == "unknown"
    spec = json.loads(at.json[0].value)
    assert spec["image"] and spec["env"] == {"API_KEY": "••••••"}
    assert "s3cr3t-value" not in texts(at)
