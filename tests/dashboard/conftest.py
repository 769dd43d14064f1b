"""Fixtures for the console: a real agent with real containers, and the app under AppTest."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.settings import get_console_settings
from tests.harness import (
    TEST_PREFIX,
    GitApp,
    RunningAgent,
    app_spec,
    engines,
    source_spec,
    start_agent,
)

APP = Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py"


@pytest.fixture(scope="session")
def xterm() -> None:
    """xterm.js installed by the console's setup (npm), as on a real machine."""
    subprocess.run([str(APP.parent / "setup.sh")], check=True)


@pytest.fixture(scope="module")
def agent(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningAgent]:
    """A real agent on PostgreSQL and the real engine that gives services a dedicated Postgres."""
    with start_agent(
        tmp_path_factory.mktemp("agent"),
        postgres=postgres,
        postgres_image=engines.build_postgres_image(docker_client),
    ) as running:
        yield running


@dataclass(frozen=True)
class Shipped:
    """A service built from a local git repository, with a database and a route.

    Release ``first`` is live; ``second`` is built and not deployed; one more commit
    (``pending``) is not built yet.
    """

    name: str
    repo: GitApp
    first: dict[str, Any]
    second: dict[str, Any]
    pending: str
    backup: str


@pytest.fixture(scope="module")
def shipped(
    agent: RunningAgent, app_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Shipped:
    name = TEST_PREFIX + "s" + uuid.uuid4().hex[:7]
    repo_dir = tmp_path_factory.mktemp("repo")
    repo = GitApp(repo_dir, app_image)
    repo.commit("1", "first release of the shop")
    client = agent.client(timeout=180)
    spec = source_spec(
        name,
        app_image,
        repo_dir,
        networks=["matrx-test", f"{name}-db-net"],
        database={},
        env={"SHOP_SECRET": "hush-41", "MODE": "test"},
        routes=[{"host": f"{name}.example.com", "port": 8080}],
    )
    client.create_service(spec)
    first = _built(client, name)
    done = client.wait_job(client.deploy(name, first["id"])["id"], timeout=120)
    assert done["status"] == "succeeded", done
    repo.commit("2", "second release with a fix")
    second = _built(client, name)
    pending = repo.commit("3", "pending change not built")
    db = client.request(
        "POST", f"/v1/databases/{name}/query", json={"sql": "SELECT 1 AS one", "limit": 1}
    )
    assert db["rows"] == [["1"]] or db["rows"] == [[1]], db
    _sql(name, "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)")
    job = client.request("POST", f"/v1/services/{name}/backups")
    assert client.wait_job(job["id"], timeout=120)["status"] == "succeeded"
    client.close()
    return Shipped(name, repo, first, second, pending, job["backup_id"])


def _built(client: Any, name: str) -> dict[str, Any]:
    job = client.wait_job(client.build(name)["id"], timeout=180)
    assert job["status"] == "succeeded", job
    releases: list[dict[str, Any]] = client.releases(name)
    return releases[0]


def _sql(service: str, statement: str) -> None:
    """What a person would do: psql inside the database container."""
    c = engines.docker_client().containers.get(f"{service}-db")
    code, out = c.exec_run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-U", "app", "-d", "app", "-c", statement]
    )
    assert code == 0, out


@dataclass(frozen=True)
class Fleet:
    """The services a console test sees: the Manager and one app that logs every second."""

    manager: str
    app: str


@pytest.fixture(scope="module")
def fleet(agent: RunningAgent, app_image: str) -> Fleet:
    names = Fleet(TEST_PREFIX + "mgr-" + uuid.uuid4().hex[:6], TEST_PREFIX + uuid.uuid4().hex[:8])
    client = agent.client()
    client.create_service(app_spec(names.manager, app_image, kind="manager"))
    client.create_service(app_spec(names.app, app_image, env={"LOG_EVERY": "1", "API_KEY": "s3"}))
    # the agent's gate may pass on its own probe before Docker's check says "healthy"
    for name in (names.manager, names.app):
        engines.wait_for(
            lambda n=name: client.service(n)["status"]["health"] == "healthy", 30, name
        )
    client.close()
    return names


def console_env(
    monkeypatch: pytest.MonkeyPatch, agent_url: str, token: str | None, **extra: str
) -> None:
    """Point the console at an agent through its settings (the environment)."""
    monkeypatch.setenv("MATRX_AGENT_URL", agent_url)
    monkeypatch.setenv("MATRX_CONSOLE_SCOPE", extra.pop("scope", "deploy"))
    if token is None:
        monkeypatch.delenv("MATRX_CONSOLE_TOKEN", raising=False)
    else:
        monkeypatch.setenv("MATRX_CONSOLE_TOKEN", token)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    get_console_settings.cache_clear()


def app_test() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


@pytest.fixture
def console(
    monkeypatch: pytest.MonkeyPatch, agent: RunningAgent, fleet: Fleet
) -> Iterator[AppTest]:
    """The console in deploy scope, signed in with the agent's admin token, first page run."""
    console_env(monkeypatch, agent.url, agent.admin_token)
    at = app_test().run()
    yield at
    get_console_settings.cache_clear()


def rerun_until(at: AppTest, ready: Callable[[], object], timeout: float, what: str) -> None:
    """Re-run the page until ``ready()``: it shows what the agent does in the background."""

    def shown() -> bool:
        if ready():
            return True
        at.run()
        return False

    engines.wait_for(shown, timeout, what, interval=0.5)


def open_page(at: AppTest, page: str, **query: str) -> AppTest:
    """Switch to ``app_pages/<page>.py`` (the Services section's copy) and run it."""
    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Everything a person reads on the page, as one string."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "caption",
        "markdown",
        "metric",
        "info",
        "success",
        "warning",
        "error",
        "code",
        "text",
    ):
        for el in getattr(at, kind):
            parts.append(str(getattr(el, "value", "")))
            parts.append(str(getattr(el, "label", "")))
    for df in at.dataframe:
        parts.append(df.value.to_string())
    return "\n".join(parts)
